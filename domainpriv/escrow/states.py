"""A deposit's states and the transitions between them, in one table (each transition is audited by
escrow/services.py, which refuses any other).

    building -> built -> uploading -> uploaded
        \\          \\          \\
         +-> failed <+----------+      failed -> building (rebuild) | uploading (retry the transfer)
                                       | built (built already, and the run resuming it keeps it local)

`building` and `uploading` may also restart themselves: a run killed in the middle (kill -9, a power cut) leaves
its deposit there, and the next run, holding the escrow work lock, knows nobody else is working on it.
"""

from __future__ import annotations

from typing import Final

from domainpriv.errors import DomainprivError

BUILDING: Final = "building"
BUILT: Final = "built"
UPLOADING: Final = "uploading"
UPLOADED: Final = "uploaded"
FAILED: Final = "failed"

TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    BUILDING: frozenset({BUILDING, BUILT, FAILED}),
    BUILT: frozenset({UPLOADING, FAILED}),
    UPLOADING: frozenset({UPLOADING, UPLOADED, FAILED}),
    FAILED: frozenset({BUILDING, BUILT, UPLOADING, FAILED}),  # BUILT: its upload is no longer wanted
    UPLOADED: frozenset(),
}


class IllegalTransition(DomainprivError):
    def __init__(self, deposit: str, current: str, wanted: str) -> None:
        super().__init__(f"escrow deposit {deposit} is {current}: it cannot become {wanted}")


def check_transition(deposit: str, current: str, wanted: str) -> None:
    if wanted not in TRANSITIONS[current]:
        raise IllegalTransition(deposit, current, wanted)
