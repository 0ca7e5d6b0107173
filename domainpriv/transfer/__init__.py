"""Bulk transfer of registration data: JSON-lines import and export."""

from domainpriv.transfer.errors import ImportRejected
from domainpriv.transfer.exporter import count_records, export_registrations
from domainpriv.transfer.importer import ImportStats, import_registrations

__all__ = ["ImportRejected", "ImportStats", "count_records", "export_registrations", "import_registrations"]
