"""The state machines of cases: ONE transition table per kind, and nothing else decides what may happen next.

* complaint (workflows.md §1.2): received → (request-info ↔ needs_info) → accept → accepted → notify-customer →
  customer_notified (the customer's deadline runs) → give-assurances → assurances_received → accept-assurances →
  closed, or reject-assurances → back to customer_notified (same deadline); cancel (the customer surrenders the
  registration instead) → cancelled; court-proceedings → court_proceedings; no adequate answer by the deadline →
  deadline-passed (system) → deactivate (automatic escalation) → deactivated → disclose → disclosed; reactivate
  restores the domain; close seals the case.
* disclosure (workflows.md §2, Registration Data Policy): received → acknowledge (automatic, ≤ 2 business days)
  → acknowledged → accept (under review: the balancing test) → under_review → notify-customer → customer_notified
  → the customer's answer or the deadline → disclose (only the requested and approved fields) | refuse (with
  reasons) → close. An urgent legal order, once accepted, allows disclosure without a prior customer notice.
* abuse (workflows.md §3, RAA 3.18): received → accept (investigating) | reject | request-info; deactivate (the
  mitigation: clientHold, DNS), reactivate, close.

Each transition: its name (the CLI action), the states it leaves, the state it enters (None: it stays, a note on
the case such as an accepted legal order), and who may take it: staff (the legal role, or the operator's CLI),
the customer (the domain's account or its reseller; staff may record the customer's e-mailed answer) or the
system (the sweep). Pure: no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from domainpriv.cases.errors import IllegalTransition, UnknownAction

__all__ = [
    "ACTIONS",
    "KINDS",
    "TABLES",
    "Kind",
    "Transition",
    "Who",
    "states_of",
    "terminal",
    "transition",
]


class Kind(enum.StrEnum):
    COMPLAINT = "complaint"
    DISCLOSURE = "disclosure"
    ABUSE = "abuse"


KINDS: Final = tuple(k.value for k in Kind)


class Who(enum.StrEnum):
    STAFF = "staff"
    CUSTOMER = "customer"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str | None  # None: the state stays (a recorded step, e.g. an accepted legal order)
    who: frozenset[Who]

    def leads_from(self, state: str) -> str:
        return state if self.target is None else self.target


# States.
RECEIVED, NEEDS_INFO, ACCEPTED, REJECTED = "received", "needs_info", "accepted", "rejected"
ACKNOWLEDGED, UNDER_REVIEW, INVESTIGATING = "acknowledged", "under_review", "investigating"
CUSTOMER_NOTIFIED, ASSURANCES_RECEIVED = "customer_notified", "assurances_received"
CANCELLED, COURT_PROCEEDINGS, DEADLINE_PASSED = "cancelled", "court_proceedings", "deadline_passed"
DEACTIVATED, REACTIVATED, DISCLOSED, REFUSED, CLOSED = "deactivated", "reactivated", "disclosed", "refused", "closed"

_S, _C, _Y = Who.STAFF, Who.CUSTOMER, Who.SYSTEM


def _t(action: str, sources: str, target: str | None, *who: Who) -> tuple[str, Transition]:
    return action, Transition(action, frozenset(sources.split()), target, frozenset(who))


_COMPLAINT: Final = dict([
    _t("request-info", "received", NEEDS_INFO, _S),
    _t("accept", "received needs_info", ACCEPTED, _S),
    _t("reject", "received needs_info", REJECTED, _S),
    _t("notify-customer", "accepted", CUSTOMER_NOTIFIED, _S),
    _t("give-assurances", "customer_notified", ASSURANCES_RECEIVED, _C, _S),
    _t("cancel", "customer_notified assurances_received", CANCELLED, _C, _S),
    _t("court-proceedings", "customer_notified assurances_received", COURT_PROCEEDINGS, _C, _S),
    _t("accept-assurances", "assurances_received", CLOSED, _S),
    _t("reject-assurances", "assurances_received", CUSTOMER_NOTIFIED, _S),
    _t("deadline-passed", "customer_notified", DEADLINE_PASSED, _Y),
    _t("accept-legal-order", "received needs_info accepted customer_notified assurances_received deadline_passed "
       "deactivated", None, _S),
    _t("deactivate", "deadline_passed", DEACTIVATED, _Y, _S),
    _t("disclose", "accepted customer_notified assurances_received deadline_passed deactivated", DISCLOSED, _S),
    _t("reactivate", "deactivated disclosed closed", REACTIVATED, _S),
    _t("close", "rejected cancelled court_proceedings deadline_passed deactivated disclosed reactivated", CLOSED, _S),
])  # fmt: skip

_DISCLOSURE: Final = dict([
    _t("acknowledge", "received", ACKNOWLEDGED, _Y, _S),
    _t("request-info", "acknowledged under_review", NEEDS_INFO, _S),
    _t("accept", "acknowledged needs_info", UNDER_REVIEW, _S),
    _t("notify-customer", "under_review", CUSTOMER_NOTIFIED, _S),
    _t("give-assurances", "customer_notified", ASSURANCES_RECEIVED, _C, _S),
    _t("cancel", "customer_notified assurances_received", CANCELLED, _C, _S),
    _t("court-proceedings", "customer_notified assurances_received", COURT_PROCEEDINGS, _C, _S),
    _t("deadline-passed", "customer_notified", DEADLINE_PASSED, _Y),
    _t("accept-legal-order", "acknowledged needs_info under_review customer_notified assurances_received "
       "deadline_passed deactivated", None, _S),
    _t("deactivate", "deadline_passed", DEACTIVATED, _S),
    _t("disclose", "under_review customer_notified assurances_received deadline_passed deactivated", DISCLOSED, _S),
    _t("refuse", "acknowledged needs_info under_review customer_notified assurances_received deadline_passed "
       "court_proceedings", REFUSED, _S),
    _t("reactivate", "deactivated disclosed closed", REACTIVATED, _S),
    _t("close", "refused disclosed cancelled court_proceedings deactivated reactivated", CLOSED, _S),
])  # fmt: skip

_ABUSE: Final = dict([
    _t("request-info", "received investigating", NEEDS_INFO, _S),
    _t("accept", "received needs_info", INVESTIGATING, _S),
    _t("reject", "received needs_info investigating", REJECTED, _S),
    _t("deactivate", "investigating", DEACTIVATED, _S),
    _t("reactivate", "deactivated closed", REACTIVATED, _S),
    _t("close", "investigating rejected deactivated reactivated", CLOSED, _S),
])  # fmt: skip

TABLES: Final[Mapping[Kind, Mapping[str, Transition]]] = {
    Kind.COMPLAINT: _COMPLAINT,
    Kind.DISCLOSURE: _DISCLOSURE,
    Kind.ABUSE: _ABUSE,
}

# Every action name of any table (the CLI's choices).
ACTIONS: Final = tuple(sorted({a for table in TABLES.values() for a in table}))


def states_of(kind: Kind) -> frozenset[str]:
    """Every state a case of `kind` can be in."""
    table = TABLES[kind]
    return frozenset({RECEIVED} | {s for t in table.values() for s in t.sources} | {
        t.target for t in table.values() if t.target is not None
    })  # fmt: skip


def terminal(kind: Kind, state: str) -> bool:
    """No transition leaves `state` (closed, for now: a closed case can only be reactivated)."""
    return not any(state in t.sources for t in TABLES[kind].values())


def transition(kind: Kind | str, state: str, action: str) -> Transition:
    """The transition `action` of a case of `kind` in `state`. Raises UnknownAction (not an action of this kind,
    naming the ones it has), IllegalTransition (naming the current state and the actions it allows)."""
    table = TABLES[Kind(kind)]
    found = table.get(action)
    if found is None:
        raise UnknownAction(action, str(kind), sorted(table))
    if state not in found.sources:
        allowed = sorted(a for a, t in table.items() if state in t.sources)
        raise IllegalTransition(action, str(kind), state, allowed)
    return found
