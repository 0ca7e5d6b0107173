"""Errors of bulk import and export."""

from __future__ import annotations

from domainpriv.errors import DomainprivError


class ImportRejected(DomainprivError):
    """The file was refused as a whole; nothing was written. `line` is 1-based (0: the file as a whole)."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}" if line else problem)
        self.line = line
        self.problem = problem
