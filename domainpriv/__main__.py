from domainpriv.cli import main

main()
