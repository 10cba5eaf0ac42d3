"""SES v2 email identity and tag use cases against the fakes: AlreadyExists / NotFound,
Easy DKIM and BYODKIM keys verifying a domain, feedback forwarding, tag rules, ARNs of
other accounts."""

from __future__ import annotations

import base64

import pytest
from core_helpers import fake_core, tenant
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from postroom.domain import dkim
from postroom.domain.templates import EmailTemplate
from postroom.domain.use_cases import email_identities as v2
from postroom.domain.use_cases import tags
from postroom.domain.use_cases.email_identities import CreateEmailIdentity, SigningKey
from postroom.errors import ClientError, InvalidParameterValue, NotFound


def _der(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip
    return base64.b64encode(der).decode()


async def test_create_twice_is_already_exists_and_delete_of_nothing_is_not_found() -> None:
    world = fake_core()
    caller = tenant(world)
    created = await v2.create_email_identity(world.core, caller, CreateEmailIdentity("a.test"))
    assert created.kind == "Domain" and created.status == "Pending"
    assert created.dkim.origin == "AWS_SES" and len(created.dkim.tokens or []) == 3
    with pytest.raises(ClientError, match="already exist") as raised:
        await v2.create_email_identity(world.core, caller, CreateEmailIdentity("A.test"))
    assert raised.value.code == "AlreadyExists"
    await v2.delete_email_identity(world.core, caller, "a.test")
    with pytest.raises(NotFound, match="^Email identity a.test does not exist.$"):
        await v2.delete_email_identity(world.core, caller, "a.test")
    with pytest.raises(NotFound):
        await v2.get_email_identity(world.core, caller, "bad\x00name")


async def test_byodkim_key_verifies_the_domain_when_published() -> None:
    world = fake_core()
    caller = tenant(world)
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    request = CreateEmailIdentity("own.test", signing_key=SigningKey("S1", _der(key)))
    created = await v2.create_email_identity(world.core, caller, request)
    assert created.dkim.origin == "EXTERNAL" and created.dkim.tokens == ["s1"]
    assert created.dkim.key_length == "RSA_1024_BIT"
    [(stored, _)] = world.core.repos.dkim.keys_of(world.memory, caller.account_id,
                                                  caller.region, "own.test")  # fmt: skip
    world.dns.txt["s1._domainkey.own.test"] = [dkim.txt_record_value(stored)]
    found = await v2.get_email_identity(world.core, caller, "own.test")
    assert found.dkim.status == "Success" and found.status == "Success"
    assert found.verified_for_sending


@pytest.mark.parametrize("selector, private", [
    ("s1", base64.b64encode(b"junk").decode()),
    ("s1", "not base64!"),
    ("s1", _der(ec.generate_private_key(ec.SECP256R1()))),  # not RSA
    ("bad_selector", _der(rsa.generate_private_key(public_exponent=65537, key_size=1024))),
    ("s" * 64, _der(rsa.generate_private_key(public_exponent=65537, key_size=1024))),
])  # fmt: skip
async def test_bad_byodkim_input_is_refused_and_creates_nothing(selector: str,
                                                                private: str) -> None:
    world = fake_core()
    caller = tenant(world)
    request = CreateEmailIdentity("own.test", signing_key=SigningKey(selector, private))
    with pytest.raises(InvalidParameterValue):
        await v2.create_email_identity(world.core, caller, request)
    assert world.memory.identities == {} and world.memory.dkim_keys == {}


async def test_feedback_forwarding_and_tags_stay_with_their_account() -> None:
    world = fake_core()
    caller, other = tenant(world), tenant(world, "other")
    request = CreateEmailIdentity("a.test", tags=[("team", "web")])
    await v2.create_email_identity(world.core, caller, request)
    await v2.put_feedback_attributes(world.core, caller, "a.test", False)
    found = await v2.get_email_identity(world.core, caller, "a.test")
    assert not found.feedback_forwarding and found.tags == [("team", "web")]
    arn = tags.resource_arn(caller, "identity", "a.test")
    assert await tags.list_tags(world.core, caller, arn) == [("team", "web")]
    with pytest.raises(NotFound):
        await tags.list_tags(world.core, other, arn)
    with pytest.raises(NotFound):
        await v2.put_feedback_attributes(world.core, other, "a.test", True)
    with pytest.raises(InvalidParameterValue, match="at most 50"):
        await tags.tag_resource(world.core, caller, arn, [(f"k{i}", "v") for i in range(50)])
    await tags.tag_resource(world.core, caller, arn, [(f"k{i}", "v") for i in range(49)])
    assert len(await tags.list_tags(world.core, caller, arn)) == 50


@pytest.mark.parametrize("pairs", [
    [("", "v")], [("k" * 129, "v")], [("k", "v" * 257)], [("k\n", "v")], [("k", "\u200b")],
    [("aws:x", "v")], [("d", "1"), ("d", "2")],
])  # fmt: skip
def test_tag_rules(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(InvalidParameterValue):
        tags.check_tags(pairs)


@pytest.mark.parametrize("arn", ["", "arn:aws:ses:us-east-1:1:identity", "arn:aws:s3:::b/x",
                                 "arn:aws:ses:us-east-1:1:identity/" + "x" * 600])
def test_malformed_arns_are_bad_requests(arn: str) -> None:
    with pytest.raises(InvalidParameterValue):
        tags.parse_arn(arn)


async def test_template_arns_are_taggable_while_the_template_exists() -> None:
    world = fake_core()
    caller = tenant(world)
    arn = tags.resource_arn(caller, "template", "Welcome")
    with pytest.raises(NotFound):
        await tags.tag_resource(world.core, caller, arn, [("k", "v")])
    template = EmailTemplate(name="Welcome", subject="Hi", text="Hello", html=None)
    world.core.repos.templates.insert(world.memory, caller.account_id, caller.region,
                                      template, world.clock.now())  # fmt: skip
    await tags.tag_resource(world.core, caller, arn, [("k", "v")])
    assert await tags.list_tags(world.core, caller, arn) == [("k", "v")]
    with pytest.raises(NotFound):
        await tags.list_tags(world.core, caller, arn.replace("Welcome", "welcome"))
