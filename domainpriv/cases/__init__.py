"""Cases: complaints against privacy-protected domains, disclosure requests (Registration Data Policy) and abuse
reports (RAA 3.18): intake, one state machine per kind, deadlines on a business-day calendar, deactivation and
reactivation, disclosure with its ledger, and the disclosure-request register.

Modules: `states` (the transition tables; pure), `calendar` (business days; pure), `fields` (public field names;
pure), `clocks` (timers and `due_at`), `intake` (open_case), `transitions` (act, give_assurances), `deadlines`
(the sweep's part), `deactivation`, `disclosure` (and the ledger), `register`, `views`, `records`, `errors`.
"""

from domainpriv.cases.deadlines import CaseSweepReport, process_due
from domainpriv.cases.disclosure import ledger_for_account, ledger_rows
from domainpriv.cases.errors import (
    AlreadyDeactivated,
    CaseNotFound,
    CaseRuleBroken,
    DisclosureNotAllowed,
    IllegalTransition,
    NoLegalOrder,
    NotAllowedToAct,
    UnknownAction,
)
from domainpriv.cases.fields import PUBLIC_FIELDS, parse_fields
from domainpriv.cases.intake import Evidence, Requester, open_case
from domainpriv.cases.records import CaseEventRecord, CaseSnapshot, DeactivationRecord, EvidenceRecord, LedgerEntry
from domainpriv.cases.register import register_csv, register_rows
from domainpriv.cases.states import ACTIONS, KINDS, TABLES, Kind, Transition, Who
from domainpriv.cases.transitions import CaseActor, act, give_assurances
from domainpriv.cases.views import cases_of_customer, get_case, list_cases

__all__ = [
    "ACTIONS",
    "KINDS",
    "PUBLIC_FIELDS",
    "TABLES",
    "AlreadyDeactivated",
    "CaseActor",
    "CaseEventRecord",
    "CaseNotFound",
    "CaseRuleBroken",
    "CaseSnapshot",
    "CaseSweepReport",
    "DeactivationRecord",
    "DisclosureNotAllowed",
    "Evidence",
    "EvidenceRecord",
    "IllegalTransition",
    "Kind",
    "LedgerEntry",
    "NoLegalOrder",
    "NotAllowedToAct",
    "Requester",
    "Transition",
    "UnknownAction",
    "Who",
    "act",
    "cases_of_customer",
    "get_case",
    "give_assurances",
    "ledger_for_account",
    "ledger_rows",
    "list_cases",
    "open_case",
    "parse_fields",
    "process_due",
    "register_csv",
    "register_rows",
]
