"""One schema for both engines (SQLite and PostgreSQL), in SQLAlchemy Core.

Changes go through Alembic migrations (`store/migrations/versions`): change this file,
then add a revision (`alembic revision --autogenerate`, see docs/development.md).

Times are epoch seconds (float) from the injected clock; JSON documents are text.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)

metadata = MetaData()

# An account's own columns, and (sandbox, quotas, operator's pause) the state a region
# starts from when the account first uses it; each region's state is in account_regions.
accounts = Table(
    "accounts",
    metadata,
    Column("id", String(12), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("sandbox", Boolean, nullable=False, default=True),
    Column("max_24h", Float, nullable=False),
    Column("max_rate", Float, nullable=False),
    Column("sending_enabled", Boolean, nullable=False, default=True),
    # Shared rate-limit state (token bucket), kept in the database so every node agrees.
    Column("rate_tokens", Float, nullable=False),
    Column("rate_updated_at", Float, nullable=False),
    # Reputation (issue 3): HEALTHY | PROBATION (under review) | SHUTDOWN (sending paused);
    # rates count only what happened after reputation_since (reset by `accounts resume`).
    Column("enforcement", String(16), nullable=False, server_default="HEALTHY"),
    Column("reputation_since", Float, nullable=False, server_default="0"),
    # Issue 9: the account-level suppression list's reasons (SES v2 SuppressedReasons),
    # comma-separated; SES enables both for new accounts.
    Column("suppressed_reasons", String(32), nullable=False, server_default="BOUNCE,COMPLAINT"),
    # Who paused sending (issue 8): `sending_enabled` is false while any pause holds, and
    # each pause is lifted only by its owner. The tenant's own (UpdateAccountSendingEnabled)
    # and the operator's (`accounts pause`); reputation's pause is enforcement SHUTDOWN.
    Column("paused_by_tenant", Boolean, nullable=False, server_default=false()),
    Column("paused_by_operator", Boolean, nullable=False, server_default=false()),
    # Issue 10: whether the account has a webhook; read with the account on the send path,
    # so that admission writes outbox rows only for accounts that have one.
    Column("has_webhooks", Boolean, nullable=False, server_default=false()),
)

# Issue 9: as on SES, quotas, the sandbox, production access, the sending switch and the
# account's details are per account *and region*. A row is made (from the account's
# defaults above) when the account first sends or changes something in a region.
account_regions = Table(
    "account_regions",
    metadata,
    Column("account_id", String(12), ForeignKey("accounts.id"), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("sandbox", Boolean, nullable=False),
    Column("max_24h", Float, nullable=False),
    Column("max_rate", Float, nullable=False),
    Column("sending_enabled", Boolean, nullable=False),  # derived: no pause holds
    Column("rate_tokens", Float, nullable=False),
    Column("rate_updated_at", Float, nullable=False),
    Column("paused_by_tenant", Boolean, nullable=False, server_default=false()),
    Column("paused_by_operator", Boolean, nullable=False, server_default=false()),
    # PutAccountDetails (JSON: MailType, WebsiteURL, ...), as last given; NULL: never.
    Column("details", Text),
)

# Production-access requests (PutAccountDetails ProductionAccessEnabled=true), reviewed by
# the operator: PENDING, then GRANTED or DENIED (with the reason).
access_requests = Table(
    "access_requests",
    metadata,
    Column("case_id", String(16), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # PENDING | GRANTED | DENIED
    Column("details", Text, nullable=False),  # JSON, as filed
    Column("filed_at", Float, nullable=False),
    Column("decided_at", Float),
    Column("reason", Text),
)
Index("ix_access_requests_account", access_requests.c.account_id, access_requests.c.region)
Index("ix_access_requests_status", access_requests.c.status)

access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(32), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("secret_encrypted", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

identities = Table(
    "identities",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
    Column("region", String(32), nullable=False),
    # Email addresses as given (case-sensitive local part), domains lower-cased.
    Column("identity", String(320), nullable=False),
    Column("kind", String(16), nullable=False),  # EmailAddress | Domain
    Column("status", String(24), nullable=False),  # Pending | Success | Failed | TemporaryFailure
    Column("token", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("verified_at", Float),
    Column("last_checked_at", Float),
    # Issue 9: SES v2 FeedbackForwardingStatus (v1 SetIdentityFeedbackForwardingEnabled).
    Column("feedback_forwarding", Boolean, nullable=False, server_default=true()),
    # Issue 10: the identity's default configuration set (v2 PutEmailIdentityConfiguration-
    # SetAttributes); a send from it without ConfigurationSetName uses this one.
    Column("configuration_set", String(64)),
    UniqueConstraint("account_id", "region", "identity", name="uq_identity"),
)
Index("ix_identities_token", identities.c.token)

messages = Table(
    "messages",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("operation", String(32), nullable=False),
    Column("source", Text, nullable=False),
    Column("envelope_from", Text, nullable=False),
    Column("destinations", Text, nullable=False),  # JSON list of addr-specs
    Column("subject", Text, nullable=False),
    Column("tags", Text, nullable=False),  # JSON {name: [values]}
    Column("raw", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("status", String(24), nullable=False),  # summary: Queued, Delivered, Bounced, ...
    Column("internal", Boolean, nullable=False, default=False),  # verification mails etc.
    # Issue 10: the configuration set the message was sent with, and what delivery and
    # outcome recording need of it, as it was when the message was accepted: TLS REQUIRE,
    # and the set's suppressed reasons (NULL: the account's; comma-separated).
    Column("configuration_set", String(64)),
    Column("require_tls", Boolean, nullable=False, server_default=false()),
    Column("suppressed_reasons", String(32)),
)
Index("ix_messages_account_time", messages.c.account_id, messages.c.created_at)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(64), ForeignKey("messages.id"), nullable=False, index=True),
    Column("account_id", String(12), nullable=False),
    Column("domain", String(255), nullable=False),
    Column("recipients", Text, nullable=False),  # JSON list of addr-specs
    Column("state", String(16), nullable=False),  # queued | done
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", Float),
    Column("created_at", Float, nullable=False),
    Column("last_reply", Text),
)
Index("ix_deliveries_due", deliveries.c.state, deliveries.c.next_attempt_at)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(64), ForeignKey("messages.id"), nullable=False, index=True),
    Column("account_id", String(12), nullable=False),
    Column("event_type", String(24), nullable=False),
    Column("recipients", Text, nullable=False),  # JSON list
    Column("timestamp", Float, nullable=False),
    Column("detail", Text, nullable=False),  # JSON: the event's type-specific object
)
Index("ix_events_account_time", events.c.account_id, events.c.timestamp)

mailbox = Table(
    "mailbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", String(64), ForeignKey("messages.id"), nullable=False),
    Column("account_id", String(12), nullable=False, index=True),
    Column("recipients", Text, nullable=False),
    Column("delivered_at", Float, nullable=False),
    # The DKIM-Signature header field (with its CRLF) the message got as it was captured.
    Column("dkim_signature", LargeBinary, nullable=True),
)

# Recipients charged against the 24-hour quota, per account, region and minute.
usage = Table(
    "usage",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("minute", Integer, primary_key=True),
    Column("recipients", Integer, nullable=False),
)

# GetSendStatistics: one row per account, region and 15-minute bucket (reputation sums
# an account's regions).
send_stats = Table(
    "send_stats",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("bucket", Integer, primary_key=True),
    Column("delivery_attempts", Integer, nullable=False, default=0),
    Column("bounces", Integer, nullable=False, default=0),
    Column("complaints", Integer, nullable=False, default=0),
    Column("rejects", Integer, nullable=False, default=0),
    # Reputation counts (issue 3): the simulator's mail and suppressed addresses left out.
    Column("rep_sends", Integer, nullable=False, server_default="0"),
    Column("rep_hard_bounces", Integer, nullable=False, server_default="0"),
    Column("rep_complaints", Integer, nullable=False, server_default="0"),
)

# DKIM (issue 3): per domain identity, whether signing is on and what DNS showed last.
dkim_domains = Table(
    "dkim_domains",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("domain", String(255), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("status", String(24), nullable=False),  # Pending | Success | Failed | ...
    Column("created_at", Float, nullable=False),
    Column("last_checked_at", Float),
    # Issue 9: AWS_SES (Easy DKIM, keys made here) | EXTERNAL (bring your own DKIM key).
    Column("signing_origin", String(16), nullable=False, server_default="AWS_SES"),
)

# Each DKIM token is a selector with its own RSA key pair; the private key is sealed. A
# selector is unique within its domain (Easy DKIM tokens are random; a BYODKIM selector such
# as `s1` is the owner's choice, alike across domains).
dkim_keys = Table(
    "dkim_keys",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("domain", String(255), primary_key=True),
    Column("selector", String(64), primary_key=True),
    Column("private_key_sealed", Text, nullable=False),
    Column("public_key", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("seen_at", Float),  # first time the selector's TXT record was found
)

# The account-level suppression list (issue 3): hard bounces and complaints land here.
suppressed = Table(
    "suppressed",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("address", String(320), primary_key=True),  # lower-cased addr-spec
    Column("reason", String(16), nullable=False),  # BOUNCE | COMPLAINT
    Column("created_at", Float, nullable=False),
    Column("message_id", String(64)),  # the message whose outcome put it here, if any
)

# Custom MAIL FROM domains (issue 3): per identity, with what DNS showed last.
mail_from = Table(
    "mail_from",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("identity", String(320), primary_key=True),
    Column("domain", String(255), nullable=False),
    Column("behavior", String(24), nullable=False),  # UseDefaultValue | RejectMessage
    Column("status", String(24), nullable=False),  # Pending | Success | Failed | TemporaryFailure
    Column("created_at", Float, nullable=False),
    Column("last_checked_at", Float),
)

# Rate limits on side effects (issue 8): one token bucket per key ("kind:subject"), shared
# by every node and process; checked and updated in the side effect's own transaction.
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("full_at", Float, nullable=False, index=True),  # a full bucket's row can go
)

# Facts about the installation itself, one row each (e.g. the secret key's fingerprint).
meta = Table(
    "meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# Email templates (issue 9), per account and region as in SES; parts may be absent.
templates = Table(
    "templates",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("subject", Text),
    Column("text", Text),
    Column("html", Text),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# Configuration sets (issue 10), per account and region as in SES. Tracking: NULL no
# tracking options, '' tracking options without a custom redirect domain.
configuration_sets = Table(
    "configuration_sets",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("sending_enabled", Boolean, nullable=False),
    Column("tls_policy", String(16), nullable=False),  # REQUIRE | OPTIONAL
    Column("sending_pool", String(64)),  # stored, not acted on
    Column("max_delivery_seconds", Integer),  # stored, not acted on
    Column("reputation_metrics", Boolean, nullable=False),
    Column("last_fresh_start", Float),
    Column("suppressed_reasons", String(32)),  # NULL: the account's; else comma-separated
    Column("tracking_domain", String(255)),
    Column("https_policy", String(24)),
)

# Tags on resources (issue 9, SES v2 TagResource): identities, templates, later
# configuration sets and contact lists, addressed by their ARN.
resource_tags = Table(
    "resource_tags",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("resource_arn", String(512), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(256), nullable=False),
)

# Webhooks (issue 10): an account's endpoints for its events; the secret is sealed.
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", String(24), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("event_types", String(200), nullable=False),  # SES eventType values, comma-separated
    Column("secret_sealed", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

# The events' outbox: one row per event and webhook, written in the commit of the state
# change that caused the event; the publisher claims due rows with a lease, as the queue.
webhook_outbox = Table(
    "webhook_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(32), nullable=False, unique=True),
    Column("webhook_id", String(24), nullable=False, index=True),
    Column("account_id", String(12), nullable=False),
    Column("message_id", String(64), nullable=False),
    Column("event_type", String(24), nullable=False),
    Column("recipients", Text, nullable=False),  # JSON list
    Column("timestamp", Float, nullable=False),
    Column("detail", Text, nullable=False),  # JSON: the event's type-specific object
    Column("state", String(16), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Float, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", Float),
    Column("created_at", Float, nullable=False),
)
Index("ix_webhook_outbox_due", webhook_outbox.c.state, webhook_outbox.c.next_attempt_at)

# Every POST of a notification: when, what came back (status or error), how long it took.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("outbox_id", Integer, nullable=False, index=True),
    Column("webhook_id", String(24), nullable=False, index=True),
    Column("attempted_at", Float, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
)
