"""Registration Data Directory Services: the public WHOIS (port 43) and RDAP servers and their renderers."""

from domainpriv.rdds.source import DatabaseSource, RecordSource, publication_policy

__all__ = ["DatabaseSource", "RecordSource", "publication_policy"]
