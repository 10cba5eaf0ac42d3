"""Admitting submissions into the queue: checks, quota and enqueue in one transaction.

The group commit hands every SendEmail waiting for it to `Admission.admit_all` at once
(the unit of work's `write_batched`). Each message is
checked in turn (check_paused -> check_verified -> check_mail_from -> check_sandbox ->
reserve_quota) against state read once per batch: the account's row for the region (made
from the account's defaults the first time it sends there) and its 24-hour usage,
the verified identities and MAIL FROM settings asked about. A refusal is decided before
anything is written, so a refused message leaves nothing behind; the accepted ones are then
written with one statement per table.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from postroom.domain import configuration_sets as sets
from postroom.domain import identities as rules
from postroom.domain import mail_from_rules, quotas
from postroom.domain.accounts import Account
from postroom.domain.callers import Caller
from postroom.domain.configuration_sets import ConfigurationSet
from postroom.domain.identities import MailFrom
from postroom.domain.messages import NewMessage, first_event
from postroom.domain.ports import (
    AccountRepository,
    ConfigurationSetRepository,
    IdentityRepository,
    MailFromRepository,
    MessageRepository,
    Tx,
    UsageRepository,
    WebhookRepository,
)
from postroom.domain.sending import Submission, is_simulator
from postroom.domain.webhooks import notifications_for
from postroom.errors import AccountSendingPaused, AccountSuspended, ClientError, MessageRejected
from postroom.wire.addresses import Address


@dataclass(frozen=True, eq=False)  # hashed by identity: a batch key of the group commit
class Admission:
    """Admission against the repositories it reads and writes (ports)."""

    accounts: AccountRepository
    identities: IdentityRepository
    mail_from: MailFromRepository
    usage: UsageRepository
    messages: MessageRepository
    configuration_sets: ConfigurationSetRepository
    webhooks: WebhookRepository | None = None  # None: no outbox rows (tools, old tests)

    def admit(self, conn: Tx, submission: Submission) -> str:
        """Admit one message (raises its ClientError if refused)."""
        result = self.admit_all(conn, [submission])[0]
        if isinstance(result, ClientError):
            raise result
        return result

    def admit_all(self, conn: Tx, submissions: Sequence[Submission]) -> list[str | ClientError]:
        """Each submission's MessageId, or the ClientError that refused it (nothing written)."""
        admission = _Admission(self, conn)
        results: list[str | ClientError] = []
        for submission in submissions:
            try:
                admission.take(submission)
            except ClientError as refused:
                results.append(refused)
            else:
                results.append(submission.message_id)
        admission.write()
        return results


@dataclass
class _Usage:
    """An account in a region as this batch changes it: rate bucket, 24-hour count, charges
    per minute."""

    account: Account
    sent_24h: int | None = None
    charged: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    rate_changed: bool = False


class _Admission:
    def __init__(self, ports: Admission, conn: Tx) -> None:
        self.ports = ports
        self.conn = conn
        self.usage: dict[tuple[str, str], _Usage] = {}  # by (account, region)
        # (account, region, identity) -> verified?, its default configuration set
        self.verified: dict[tuple[str, str, str], tuple[bool, str | None]] = {}
        self.sets: dict[tuple[str, str, str], ConfigurationSet | None] = {}
        self.mail_from: dict[tuple[str, str, tuple[str, ...]], MailFrom | None] = {}
        self.accepted: list[NewMessage] = []

    def take(self, submission: Submission) -> None:
        """Check and charge one message (raises ClientError, changing nothing, if refused)."""
        caller, now = submission.caller, submission.created_at
        usage = self._usage_of(caller.account_id, caller.region)
        account = usage.account
        chosen: ConfigurationSet | None = None
        if not submission.internal:
            if not account.sending_enabled:
                raise _paused(account)
            if submission.configuration_set:
                chosen = self._configuration_set(caller, submission.configuration_set)
            self._check_verified(caller, submission.senders)
            chosen = chosen or self._default_set(caller, submission.senders[0])
            if chosen is not None and not chosen.sending_enabled:
                raise sets.sending_paused(chosen.name)
            self._check_mail_from(caller, submission.senders[0])
            if account.sandbox:
                self._check_verified(
                    caller, [a for a in submission.recipients if not is_simulator(a)]
                )
            daily = sum(1 for a in submission.recipients if not is_simulator(a))
            if daily and usage.sent_24h is None:
                usage.sent_24h = self.ports.usage.sent_last_24h(
                    self.conn, account.id, caller.region, now
                )
            charge = quotas.Charge(len(submission.recipients), daily)
            tokens = quotas.reserve(account, charge, usage.sent_24h or 0, now)
            usage.account = dataclasses.replace(
                account, rate_tokens=tokens, rate_updated_at=max(now, account.rate_updated_at)
            )
            usage.rate_changed = True
            if daily:
                usage.sent_24h = (usage.sent_24h or 0) + daily
                usage.charged[quotas.minute_of(now)] += daily
        self.accepted.append(_new_message(submission, account.id, chosen))

    def write(self) -> None:
        for (account_id, region), usage in self.usage.items():
            account = usage.account
            if usage.rate_changed:
                self.ports.accounts.save_rate_state(
                    self.conn, account_id, region, account.rate_tokens, account.rate_updated_at
                )
            self.ports.usage.charge_minutes(self.conn, account_id, region, usage.charged)
        self.ports.messages.enqueue_all(self.conn, self.accepted)
        self._notify()

    def _notify(self) -> None:
        """The Send (or Rendering Failure) events' outbox rows, in the same commit, for
        accounts with webhooks: the flag comes with the account's row, so a batch without
        them runs no statement more; one read of the webhooks per batch otherwise."""
        repo = self.ports.webhooks
        hooked = {key[0] for key, usage in self.usage.items() if usage.account.has_webhooks}
        wanted = [m for m in self.accepted if m.account_id in hooked and not m.internal]
        if repo is None or not wanted:
            return
        hooks = repo.for_accounts(self.conn, {m.account_id for m in wanted})
        notes = [
            note
            for m in wanted
            for note in notifications_for(hooks, m.account_id, m.message_id, [first_event(m)],
                                          m.created_at)
        ]  # fmt: skip
        repo.add_notifications(self.conn, notes)

    def _usage_of(self, account_id: str, region: str) -> _Usage:
        key = (account_id, region)
        if key not in self.usage:
            account = self.ports.accounts.get_account(
                self.conn, account_id, region, for_update=True
            )
            self.usage[key] = _Usage(account)
        return self.usage[key]

    def _check_verified(self, caller: Caller, addresses: Sequence[Address]) -> None:
        candidates = {a.addr_spec: rules.covering_identities(a.local, a.domain) for a in addresses}
        where = (caller.account_id, caller.region)
        unknown = {c for cs in candidates.values() for c in cs if (*where, c) not in self.verified}
        if unknown:
            found = self.ports.identities.verified_with_sets(self.conn, *where, unknown)
            self.verified.update({(*where, c): (c in found, found.get(c)) for c in unknown})
        failing = [
            a
            for a in addresses
            if not any(self.verified[(*where, c)][0] for c in candidates[a.addr_spec])
        ]
        if failing:
            raise _not_verified(failing, caller.region)

    def _configuration_set(self, caller: Caller, name: str) -> ConfigurationSet:
        """The set of that name, read once per batch (ConfigurationSetDoesNotExist)."""
        key = (caller.account_id, caller.region, name)
        if key not in self.sets:
            found = None
            if sets.valid_name(name):
                found = self.ports.configuration_sets.get(self.conn, *key)
            self.sets[key] = found
        found = self.sets[key]
        if found is None:
            raise sets.does_not_exist(name)
        return found

    def _default_set(self, caller: Caller, source: Address) -> ConfigurationSet | None:
        """The default set of the most specific verified identity that has one (an
        address's overrides its domain's, SES DG). A default set since deleted fails the
        send, as on SES."""
        where = (caller.account_id, caller.region)
        for candidate in rules.covering_identities(source.local, source.domain):
            verified, name = self.verified.get((*where, candidate), (False, None))
            if verified and name:
                return self._configuration_set(caller, name)
        return None

    def _check_mail_from(self, caller: Caller, source: Address) -> None:
        """BehaviorOnMXFailure=RejectMessage: no send while the MAIL FROM MX is not seen."""
        candidates = tuple(rules.covering_identities(source.local, source.domain))
        key = (caller.account_id, caller.region, candidates)
        if key not in self.mail_from:
            settings = self.ports.mail_from.for_identities(self.conn, *key[:2], candidates)
            self.mail_from[key] = mail_from_rules.most_specific(settings, list(candidates))
        found = self.mail_from[key]
        if found is not None and found.status != "Success" and found.behavior == "RejectMessage":
            raise mail_from_rules.not_verified(found)


def _paused(account: Account) -> AccountSendingPaused:
    if account.enforcement == "SHUTDOWN":  # reputation's pause: an account suspended
        return AccountSuspended()
    return AccountSendingPaused("Sending is paused for this account.")


def _not_verified(addresses: Sequence[Address], region: str) -> MessageRejected:
    """SES lists the raw form and the bare address of each failing identity."""
    listed: list[str] = []
    for address in addresses:
        for form in (address.raw, address.addr_spec):
            if form not in listed:
                listed.append(form)
    return MessageRejected(
        "Email address is not verified. The following identities failed the check in region "
        f"{region.upper()}: {', '.join(listed)}"
    )


def _new_message(
    submission: Submission, account_id: str, chosen: ConfigurationSet | None
) -> NewMessage:
    tags = submission.tags
    if chosen is not None:  # SES's automatic tag (ses-spec.md 8.2)
        tags = {**tags, "ses:configuration-set": [chosen.name]}
    return NewMessage(
        message_id=submission.message_id,
        account_id=account_id,
        region=submission.caller.region,
        operation=submission.operation,
        source=submission.source,
        envelope_from=submission.envelope_from,
        recipients=[a.addr_spec for a in submission.recipients],
        subject=submission.subject,
        raw=submission.raw,
        tags=tags,
        created_at=submission.created_at,
        internal=submission.internal,
        failure=submission.failure,
        configuration_set=chosen.name if chosen is not None else None,
        require_tls=chosen is not None and chosen.tls_policy == "REQUIRE",
        suppressed_reasons=chosen.suppressed_reasons if chosen is not None else None,
    )
