"""The application core as one object: the ports the use cases reach the world through.

`services.py` (the composition root) builds it from the store modules, the database, the
resolver and the settings; the use cases in `domain/use_cases/` take it first, then the
caller and a typed request. Nothing here knows SQL, HTTP or SMTP.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from postroom.clock import Clock
from postroom.config import Settings
from postroom.domain.admission import Admission
from postroom.domain.ports import (
    AccessRequestRepository,
    AccountRepository,
    AttemptLog,
    ConfigurationSetRepository,
    DkimRepository,
    Dns,
    IdentityRepository,
    MailFromRepository,
    MessageRepository,
    RateLimitRepository,
    ReplyRules,
    ReputationRepository,
    Sealer,
    SuppressionRepository,
    TagRepository,
    TemplateRepository,
    Tx,
    UnitOfWork,
    UsageRepository,
    WebhookRepository,
)
from postroom.domain.recording import Attempt, OutcomeRecorder
from postroom.domain.sending import Submission
from postroom.errors import ClientError


@dataclass(frozen=True)
class Repositories:
    accounts: AccountRepository
    identities: IdentityRepository
    mail_from: MailFromRepository
    dkim: DkimRepository
    usage: UsageRepository
    messages: MessageRepository
    templates: TemplateRepository
    configuration_sets: ConfigurationSetRepository
    suppression: SuppressionRepository
    reputation: ReputationRepository
    rate_limits: RateLimitRepository
    tags: TagRepository
    access_requests: AccessRequestRepository
    webhooks: WebhookRepository


def _no_wake() -> None:
    return None


@dataclass
class Core:
    """The ports, the settings the rules read, and the two batch functions of the group
    commit (admission and outcome recording), made once so that items submitted with them
    are batched together."""

    uow: UnitOfWork
    repos: Repositories
    clock: Clock
    dns: Dns
    box: Sealer
    settings: Settings
    reply_rules: ReplyRules
    new_attempt_log: Callable[[], AttemptLog]
    wake: Callable[[], None] = _no_wake  # tells the delivery workers mail is queued
    admission: Admission = field(init=False)
    recorder: OutcomeRecorder = field(init=False)
    # The batch functions, bound once: the group commit batches items by these keys.
    admit_all: Callable[[Tx, list[Submission]], Sequence[str | ClientError]] = field(init=False)
    record_outcomes: Callable[[Tx, list[Attempt]], Sequence[None]] = field(init=False)

    def __post_init__(self) -> None:
        repos = self.repos
        self.admission = Admission(
            repos.accounts, repos.identities, repos.mail_from, repos.usage, repos.messages,
            repos.configuration_sets, repos.webhooks,
        )  # fmt: skip
        self.recorder = OutcomeRecorder(
            self.settings, repos.suppression, self.admission, self.reply_rules,
            self.new_attempt_log, repos.webhooks,
        )  # fmt: skip
        self.admit_all = self.admission.admit_all
        self.record_outcomes = self.recorder.record_outcomes

    def now(self) -> float:
        return self.clock.now()
