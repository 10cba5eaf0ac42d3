"""Connection reuse: with a SessionPool, consecutive messages to one server share a session;
a refused transaction leaves it usable; a stale session is replaced without a failure."""

from __future__ import annotations

from postroom.delivery.relay import RelayConfig, relay_message
from postroom.delivery.session_pool import SessionPool
from postroom.testing.sink import SinkBehaviour, SinkServer

MESSAGE = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: s\r\n\r\nbody\r\n"


async def test_messages_share_one_session(sink: SinkServer) -> None:
    config = RelayConfig(host="127.0.0.1", port=sink.port, starttls="off")
    pool = SessionPool()
    for i in range(3):
        result = await relay_message(config, "a@example.com", [f"u{i}@example.org"], MESSAGE, pool)
        assert result.recipients[0].code == 250
    received = await sink.wait_for(3)
    assert len({m.peer for m in received}) == 1  # one TCP connection for all three
    await pool.close()

    for i in range(2):  # without a pool, a session per message
        await relay_message(config, "a@example.com", [f"v{i}@example.org"], MESSAGE)
    received = await sink.wait_for(5)
    assert received[3].peer != received[4].peer


async def test_refused_recipients_leave_the_session_usable(sink: SinkServer) -> None:
    sink.behaviour = SinkBehaviour(rcpt_replies={"gone@example.org": "550 5.1.1 No such user"})
    config = RelayConfig(host="127.0.0.1", port=sink.port, starttls="off")
    pool = SessionPool()
    refused = await relay_message(config, "a@example.com", ["gone@example.org"], MESSAGE, pool)
    assert refused.recipients[0].code == 550
    accepted = await relay_message(config, "a@example.com", ["ok@example.org"], MESSAGE, pool)
    assert accepted.recipients[0].code == 250
    await pool.close()


async def test_a_stale_session_is_replaced(sink: SinkServer) -> None:
    config = RelayConfig(host="127.0.0.1", port=sink.port, starttls="off")
    pool = SessionPool()
    await relay_message(config, "a@example.com", ["one@example.org"], MESSAGE, pool)
    # The server drops idle connections (here: we stop and restart it on the same port).
    port = sink.port
    await sink.stop()
    fresh = SinkServer(port=port)
    await fresh.start()
    try:
        result = await relay_message(config, "a@example.com", ["two@example.org"], MESSAGE, pool)
        assert result.recipients[0].code == 250
        assert len(await fresh.wait_for(1)) == 1
    finally:
        await pool.close()
        await fresh.stop()
