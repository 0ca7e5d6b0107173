"""Deactivation and reactivation of a domain for a case, and the DNS steps that follow them.

What `cases.deactivation` asks for, inside the case's transaction (these steps never commit):

* `hold`: EPP `clientHold` added to the domain's statuses (and `ok` dropped, RFC 5731 §2.3) through the
  registration service (`set_statuses`, audited as `domain:statuses:set`, the change feed naming the domain,
  so WHOIS and RDAP show it at once);
* `hold-and-dns`: the hold, and the delegation removed at the authoritative server (`[dns]`) by the DNS step;
* `unprivacy`, `hold-and-unprivacy`: the privacy service withdrawn (a `proxy` domain switched through the
  registration service, the reason naming the case): to `public` when the account consented to publication,
  otherwise to `redacted` (DESIGN: `public` needs the customer's recorded consent; without it the Registration
  Data Policy's redaction is what is left once the proxy's identity is withdrawn).

What was changed is saved (`case_deactivation`): the statuses before and the ones added, the privacy mode before
and after, the DNS delegation removed. `reactivate` takes back exactly what this deactivation added (a status
someone else set meanwhile stays), puts the privacy mode back if nobody changed it since, and restores the saved
delegation. A domain held by one case's deactivation is not deactivated again by another (AlreadyDeactivated).

The DNS steps run after the case's transaction committed (STYLE §2: network I/O after commit), each in its own
transaction holding the case row (`FOR UPDATE SKIP LOCKED`: a second sweep skips a case being worked on):

1. read the delegation and save it (committed before anything is removed, so a crash after the removal cannot
   lose what was there: `suspend_delegation` is idempotent and returns nothing the second time);
2. suspend (or restore) it, verified by the DNS code with a query afterwards; mark it done.

A failure (`DnsUpdateFailed`) leaves the deactivation `suspending`/`restoring` with the error, the attempt count
and the time of the next attempt (the sweep retries: 1, 2, 4 … minutes up to an hour when retryable, every 15
minutes when a person must fix something first), shown by `case show`: never a silent half-done state.
Known limit: a crash between a restore at the server and the commit restores again at the next attempt, which the
DNS code answers without an update (already restored).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from domainpriv import dns
from domainpriv.audit import Actor
from domainpriv.cases.clocks import refresh_due
from domainpriv.cases.errors import AlreadyDeactivated, CaseRuleBroken
from domainpriv.cases.history import load_case, record_step
from domainpriv.config import Settings
from domainpriv.registration import services as registration
from domainpriv.registration.errors import DomainNotFound
from domainpriv.registration.record_query import load_domain
from domainpriv.store import Case, ConsentPurpose, Deactivation, PrivacyMode, UnitOfWork

__all__ = ["NothingToReactivate", "deactivate_domain", "reactivate_domain", "run_dns_steps"]

log = logging.getLogger(__name__)

HOLD = "clientHold"
ACTIVE, RESTORING, RESTORED = "active", "restoring", "restored"
DNS_NONE, SUSPENDING, SUSPENDED, DNS_RESTORING, DNS_RESTORED = (
    "none",
    "suspending",
    "suspended",
    "restoring",
    "restored",
)
MAX_PAUSE = timedelta(hours=1)
FIX_PAUSE = timedelta(minutes=15)


class NothingToReactivate(CaseRuleBroken):
    def __init__(self, reference: str, state: str) -> None:
        super().__init__(f"case {reference} ({state}) has no deactivation in force to reverse")
        self.reference, self.state = reference, state


def deactivate_domain(
    uow: UnitOfWork, settings: Settings, case: Case, *, now: datetime, actor: Actor, reason: str
) -> list[str]:
    """Deactivate the case's domain as configured (see the module docstring), in the open transaction; the DNS
    step is left pending for `run_dns_steps`. Returns what was done, as sentences for the customer's notice.
    Raises DomainNotFound, AlreadyDeactivated."""
    s = uow.session
    a_label = case.domain_name
    found = load_domain(s, a_label, for_update=True)
    if found is None:
        raise DomainNotFound(a_label)
    record, _ = found
    other = s.execute(
        select(Case.reference)
        .join(Deactivation, Deactivation.case_id == Case.id)
        .where(Deactivation.domain_name == a_label, Deactivation.state != RESTORED, Case.id != case.id)
        .limit(1)
    ).first()
    if other is not None:
        raise AlreadyDeactivated(a_label, other.reference)
    mode = settings.cases.deactivation
    why = f"case {case.reference}: {reason}"
    done: list[str] = []
    added: tuple[str, ...] = ()
    if mode.startswith("hold") and HOLD not in record.statuses:
        after = sorted((set(record.statuses) - {"ok"}) | {HOLD})
        registration.set_statuses(uow, actor=actor, domain=a_label, statuses=after, reason=why)
        added = (HOLD,)
        done.append("put the domain on hold (EPP clientHold): it no longer resolves, and WHOIS and RDAP show it")
    privacy_before = privacy_set = None
    if mode.endswith("unprivacy") and record.privacy_mode is PrivacyMode.PROXY:
        consented = ConsentPurpose.PUBLISH_CONTACT_DATA in record.consents
        target = PrivacyMode.PUBLIC if consented else PrivacyMode.REDACTED
        registration.set_privacy_mode(uow, actor=actor, domain=a_label, mode=target, reason=why)
        privacy_before, privacy_set = record.privacy_mode.value, target.value
        done.append(f"withdrawn the privacy service: WHOIS and RDAP now show your data {target.value}")
    dns_state = DNS_NONE
    if mode == "hold-and-dns" and settings.dns.configured:
        dns_state = SUSPENDING
        done.append("removed the domain's delegation at our DNS server")
    elif mode == "hold-and-dns":
        log.info("case %s: [dns] server is not configured; the delegation of %s stays", case.reference, a_label)
    case.deactivations.append(Deactivation(
        domain_name=a_label, state=ACTIVE, statuses_before=" ".join(record.statuses), statuses_added=" ".join(added),
        privacy_before=privacy_before, privacy_set=privacy_set, dns=dns_state, dns_attempts=0,
        dns_next_attempt_at=now if dns_state == SUSPENDING else None, deactivated_at=now,
    ))  # fmt: skip
    return done


def reactivate_domain(
    uow: UnitOfWork, settings: Settings, case: Case, *, now: datetime, actor: Actor, reason: str
) -> list[str]:
    """Reverse the case's deactivation in force: the statuses it added removed, the privacy mode put back, the
    DNS restore left pending for `run_dns_steps` (or the deactivation marked restored). Returns what was done.
    Raises NothingToReactivate."""
    s = uow.session
    d = next((d for d in case.deactivations if d.state == ACTIVE), None)
    if d is None:
        raise NothingToReactivate(case.reference, case.state)
    why = f"case {case.reference}: {reason}"
    done: list[str] = []
    found = load_domain(s, d.domain_name, for_update=True)
    if found is not None:
        record, _ = found
        added = set(d.statuses_added.split())
        if added & set(record.statuses):
            kept = sorted(set(record.statuses) - added)
            registration.set_statuses(uow, actor=actor, domain=d.domain_name, statuses=kept or ["ok"], reason=why)
            done.append("lifted the hold (EPP clientHold removed)")
        if d.privacy_set is not None and d.privacy_before is not None and record.privacy_mode.value == d.privacy_set:
            registration.set_privacy_mode(uow, actor=actor, domain=d.domain_name, mode=d.privacy_before, reason=why)
            done.append(f"restored the privacy service ({d.privacy_before})")
    if d.dns in (SUSPENDING, SUSPENDED) and d.dns_saved is not None:
        d.state, d.dns, d.dns_attempts, d.dns_next_attempt_at, d.dns_last_error = RESTORING, DNS_RESTORING, 0, now, None
        done.append("restoring the domain's delegation at our DNS server")
    else:
        if d.dns == SUSPENDING:  # nothing was read or removed at the server yet
            d.dns, d.dns_next_attempt_at, d.dns_last_error = DNS_NONE, None, None
        d.state, d.restored_at = RESTORED, now
    return done


def run_dns_steps(uow: UnitOfWork, settings: Settings, case_id: int) -> list[str]:
    """Do the case's pending DNS steps that are due (see the module docstring); each in its own transaction.
    A case another transaction holds is skipped (its holder, or the next sweep, does it). Returns report lines."""
    lines: list[str] = []
    for _ in range(4):  # read, then suspend or restore; a second deactivation's step at most once more
        with uow:
            now = uow.clock()
            s = uow.session
            case = load_case(s, case_id, for_update=True, skip_locked=True)
            if case is None:
                return lines
            d = next((d for d in case.deactivations if d.dns in (SUSPENDING, DNS_RESTORING)
                      and d.dns_next_attempt_at is not None and d.dns_next_attempt_at <= now), None)  # fmt: skip
            if d is None:
                return lines
            try:
                line = _dns_step(s, settings, case, d, now)
            except dns.DnsUpdateFailed as exc:
                d.dns_attempts += 1
                d.dns_last_error, d.dns_retryable = str(exc)[:500], exc.retryable
                d.dns_next_attempt_at = now + _pause(d.dns_attempts, exc.retryable)
                if d.dns_attempts == 1:  # the history shows the first failure; the row shows the latest
                    record_step(s, case, now=now, actor=_SYSTEM, action="dns-failed", from_state=case.state,
                                reason=str(exc)[:500], details={"reason": exc.reason, "retryable": exc.retryable,
                                                                 "step": d.dns})  # fmt: skip
                refresh_due(case)
                uow.commit()
                log.warning("case %s: DNS step failed (%s), next attempt %s", case.reference, exc.reason,
                            d.dns_next_attempt_at.isoformat())  # fmt: skip
                lines.append(f"case {case.reference}: DNS {d.dns} {d.domain_name} failed ({exc.reason}); retry at "
                             f"{d.dns_next_attempt_at.isoformat()}")  # fmt: skip
                return lines
            refresh_due(case)
            uow.commit()
            if line:
                lines.append(line)
    return lines


_SYSTEM = Actor("system", "domainpriv")


def _dns_step(s: Session, settings: Settings, case: Case, d: Deactivation, now: datetime) -> str | None:
    if d.dns == SUSPENDING and d.dns_saved is None:
        d.dns_saved = _json(dns.read_delegation(settings.dns, d.domain_name))  # saved before anything is removed
        return None
    if d.dns == SUSPENDING:
        removed = dns.suspend_delegation(settings.dns, d.domain_name)
        if not removed.empty:
            d.dns_saved = _json(removed)
        d.dns, d.dns_next_attempt_at, d.dns_last_error = SUSPENDED, None, None
        record_step(s, case, now=now, actor=_SYSTEM, action="dns-suspend", from_state=case.state,
                    reason=f"delegation of {d.domain_name} removed",
                    details={"attempts": d.dns_attempts + 1})  # fmt: skip
        return f"case {case.reference}: delegation of {d.domain_name} suspended"
    saved = dns.SavedDelegation.from_json(orjson.loads(d.dns_saved or "{}"))
    dns.restore_delegation(settings.dns, d.domain_name, saved)
    d.dns, d.dns_next_attempt_at, d.dns_last_error = DNS_RESTORED, None, None
    d.state, d.restored_at = RESTORED, now
    record_step(s, case, now=now, actor=_SYSTEM, action="dns-restore", from_state=case.state,
                reason=f"delegation of {d.domain_name} restored", details={"attempts": d.dns_attempts + 1})  # fmt: skip
    return f"case {case.reference}: delegation of {d.domain_name} restored"


def _json(saved: dns.SavedDelegation) -> str:
    return orjson.dumps(saved.to_json()).decode()


def _pause(attempts: int, retryable: bool) -> timedelta:
    """1, 2, 4 … minutes after each failed attempt, at most an hour; 15 minutes when a person must fix it."""
    if not retryable:
        return FIX_PAUSE
    return min(timedelta(minutes=2 ** max(0, attempts - 1)), MAX_PAUSE)
