"""Errors of the cases capability, one class per broken rule::

    DomainprivError
    ├── ValidationError                 registration/errors.py (intake and action arguments; names the field)
    ├── NotFound
    │   └── CaseNotFound                a case that does not exist or is not the actor's to see
    ├── CaseRuleBroken                  a rule of the workflow, naming the case's current state
    │   ├── IllegalTransition           the action does not leave the current state
    │   ├── UnknownAction               not an action of this kind of case
    │   ├── NotAllowedToAct             the actor is not one who may take this action (staff, customer, system)
    │   ├── DisclosureNotAllowed        no prior customer notice and expired deadline, and no accepted legal order
    │   ├── AlreadyDeactivated          the domain is already held by another case's deactivation
    │   └── NoLegalOrder                accept-legal-order on a case that records no urgent legal order
    └── DnsUpdateFailed                 dns/ (not raised by the services: a deactivation's visible retry state)

Messages never carry personal data: they name cases by reference, domains, states, actions and fields.
"""

from __future__ import annotations

from collections.abc import Sequence

from domainpriv.errors import DomainprivError, NotFound

__all__ = [
    "AlreadyDeactivated",
    "CaseNotFound",
    "CaseRuleBroken",
    "DisclosureNotAllowed",
    "IllegalTransition",
    "NoLegalOrder",
    "NotAllowedToAct",
    "UnknownAction",
]


class CaseNotFound(NotFound):
    def __init__(self, case: object) -> None:
        super().__init__(f"case {case} not found")
        self.case = case


class CaseRuleBroken(DomainprivError):
    """A workflow rule refused the step."""


class IllegalTransition(CaseRuleBroken):
    def __init__(self, action: str, kind: str, state: str, allowed: Sequence[str]) -> None:
        hint = f"; from {state} a {kind} allows: {', '.join(allowed)}" if allowed else f"; {state} is final"
        super().__init__(f"cannot {action}: the {kind} case is {state}{hint}")
        self.action, self.kind, self.state, self.allowed = action, kind, state, tuple(allowed)


class UnknownAction(CaseRuleBroken):
    def __init__(self, action: str, kind: str, actions: Sequence[str]) -> None:
        super().__init__(f"{action!r} is not an action of {kind} cases (actions: {', '.join(actions)})")
        self.action, self.kind = action, kind


class NotAllowedToAct(CaseRuleBroken):
    def __init__(self, action: str, who: str, may: Sequence[str]) -> None:
        super().__init__(f"{action} is not for the {who} to take (it is for: {', '.join(may)})")
        self.action, self.who = action, who


class DisclosureNotAllowed(CaseRuleBroken):
    def __init__(self, reference: str, state: str, why: str) -> None:
        super().__init__(f"case {reference} ({state}): no disclosure: {why}")
        self.reference, self.state = reference, state


class AlreadyDeactivated(CaseRuleBroken):
    def __init__(self, domain: str, reference: str) -> None:
        super().__init__(f"domain {domain} is already deactivated by case {reference}")
        self.domain, self.reference = domain, reference


class NoLegalOrder(CaseRuleBroken):
    def __init__(self, reference: str, state: str) -> None:
        super().__init__(f"case {reference} ({state}) records no urgent legal order (opened without --urgent and a "
                         "legal basis)")  # fmt: skip
        self.reference, self.state = reference, state
