"""Notices to people: an outbox written in the transaction of the change that causes it, delivered by SMTP."""
