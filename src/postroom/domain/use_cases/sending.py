"""Sending: `submit_messages` admits prepared submissions into the queue (sandbox, quota,
suppression-free checks in `admission.py`, inside the group commit), durably, then wakes the
delivery workers. `send_email` and `send_raw_email` validate and build the MIME message
first (pure, before the transaction)."""

from __future__ import annotations

from postroom.domain.callers import Caller, authorize
from postroom.domain.core import Core
from postroom.domain.requests import SendEmail, SendRawEmail
from postroom.domain.sending import Submission, prepare_send_email, prepare_send_raw_email


async def submit_messages(core: Core, submission: Submission) -> str:
    """Admit and durably queue one message with the rest of the group commit (its
    `write_batched`: every SendEmail waiting for the same commit is admitted in one batch),
    then wake the worker. Returns the MessageId once committed."""
    message_id: str = await core.uow.write_batched(core.admit_all, submission)
    core.wake()
    return message_id


async def send_email(core: Core, caller: Caller, request: SendEmail) -> str:
    authorize(caller, "send_email")
    return await submit_messages(core, prepare_send_email(caller, request, core.clock.now()))


async def send_raw_email(core: Core, caller: Caller, request: SendRawEmail) -> str:
    authorize(caller, "send_raw_email")
    return await submit_messages(core, prepare_send_raw_email(caller, request, core.clock.now()))
