"""`record_outcomes` against the fakes: suppression on hard bounces and complaints (not on
policy blocks), reputation counts, the simulator's exemptions and auto-replies, retries."""

from __future__ import annotations

from dataclasses import replace

from core_helpers import fake_core, mail, tenant

from postroom.config import Settings
from postroom.delivery.outcomes import classify
from postroom.delivery.simulator import simulate
from postroom.domain.messages import Job
from postroom.domain.outcomes import Outcome
from postroom.domain.recording import Attempt
from postroom.domain.use_cases import sending
from postroom.testing.fakes import FakeWorld


async def _queued(world: FakeWorld, *to: str, return_path: str | None = None) -> Job:
    caller = tenant(world, "acme", "example.com")
    world.core.repos.accounts.set_production(world.memory, caller.account_id, None, None, None)
    request = mail("app@example.com", *to)
    if return_path:
        request = replace(request, return_path=return_path)
    await sending.send_email(world.core, caller, request)
    [job] = world.memory.jobs.values()
    return job


async def _record(world: FakeWorld, job: Job, outcomes: list[Outcome], **kw: object) -> None:
    loaded = world.core.repos.messages.load_record(world.memory, job.message_id)
    assert loaded is not None
    record, envelope_from = loaded
    attempt = Attempt(job, record, envelope_from, outcomes, world.clock.now(), False, **kw)  # type: ignore[arg-type]
    await world.uow.write_batched(world.core.record_outcomes, attempt)


def _counts(world: FakeWorld, job: Job) -> dict[str, int]:
    [counts] = [c for (a, _r, _b), c in world.memory.stats.items() if a == job.account_id]
    return dict(counts)


async def test_a_hard_bounce_is_suppressed_and_counted_against_reputation() -> None:
    world = fake_core()
    job = await _queued(world, "gone@example.org", "ok@example.org")
    bounced = classify("gone@example.org", 550, "5.1.1", "user unknown")
    delivered = classify("ok@example.org", 250, "2.0.0", "ok")
    await _record(world, job, [bounced, delivered])
    assert set(world.memory.suppressed) == {(job.account_id, "gone@example.org")}
    kinds = [e.event_type for e in world.memory.events_of(job.message_id)]
    assert kinds == ["Send", "Delivery", "Bounce"]
    counts = _counts(world, job)
    assert counts["rep_sends"] == 2 and counts["rep_hard_bounces"] == 1
    assert counts["bounces"] == 1 and counts["delivery_attempts"] == 2
    assert job.id in world.memory.done and not world.memory.jobs


async def test_a_policy_block_is_neither_suppressed_nor_a_hard_bounce_for_reputation() -> None:
    world = fake_core()
    job = await _queued(world, "someone@example.org")
    blocked = classify("someone@example.org", 550, "5.7.1", "rejected by policy: spam")
    assert blocked.kind == "bounced" and blocked.policy
    await _record(world, job, [blocked])
    assert not world.memory.suppressed
    assert _counts(world, job)["rep_hard_bounces"] == 0


async def test_a_complaint_is_suppressed_and_counted() -> None:
    world = fake_core()
    job = await _queued(world, "angry@example.org")
    await _record(world, job, [Outcome("angry@example.org", "complained", 250, "2.0.0", "ok")])
    assert world.memory.suppressed[(job.account_id, "angry@example.org")]["reason"] == "COMPLAINT"
    assert _counts(world, job)["rep_complaints"] == 1


async def test_the_simulator_touches_neither_suppression_nor_reputation() -> None:
    world = fake_core()
    job = await _queued(world, "bounce@simulator.amazonses.com")
    await _record(world, job, [simulate("bounce@simulator.amazonses.com")])
    assert not world.memory.suppressed
    counts = _counts(world, job)
    assert counts["bounces"] == 1 and "rep_sends" not in counts


async def test_the_simulators_ooto_answers_the_return_path_with_a_null_sender() -> None:
    world = fake_core()
    job = await _queued(world, "ooto@simulator.amazonses.com", return_path="app@example.com")
    await _record(world, job, [simulate("ooto@simulator.amazonses.com")])
    replies = [m for m in world.memory.messages.values() if m.operation == "SimulatorAutoReply"]
    assert len(replies) == 1
    assert replies[0].recipients == ["app@example.com"] and replies[0].envelope_from == ""
    assert replies[0].internal


async def test_a_deferral_is_retried_then_expires_as_a_transient_bounce() -> None:
    settings = Settings(retry_initial=60.0, retry_max_age=3600.0)
    world = fake_core(settings)
    job = await _queued(world, "full@example.org")
    deferred = classify("full@example.org", 451, "4.2.2", "mailbox full")
    await _record(world, job, [deferred])
    [again] = world.memory.jobs.values()
    assert again.attempts == 1 and again.recipients == ["full@example.org"]
    assert [e.event_type for e in world.memory.events_of(job.message_id)][-1] == "DeliveryDelay"
    world.clock.advance(3700)
    await _record(world, again, [deferred])
    last = world.memory.events_of(job.message_id)[-1]
    assert last.event_type == "Bounce" and last.detail["bounceType"] == "Transient"
    assert not world.memory.jobs and not world.memory.suppressed
