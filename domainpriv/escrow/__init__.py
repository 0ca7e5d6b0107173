"""Registrar data escrow: deposits of the underlying registration data, their transfer and their drill.

Layers, each its own module (STYLE §5): `record` (what one deposited domain holds), `snapshot` (rows from one
consistent read), `profiles` (the column tables: CSV header and Header Mapping File from one source),
`csvfiles` (rows become split, hashed, gzipped files), `openpgp` (encrypt to the agent, sign as the registrar),
`naming` (file names), `sftp` (the transfer), `services` (deposits as audited state transitions), `restore`
(the drill that rebuilds the data from a deposit and diffs it against the live data).
"""
