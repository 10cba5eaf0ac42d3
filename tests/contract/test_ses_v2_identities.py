"""Contract: SES v2 email identities, DKIM (Easy DKIM and BYODKIM), MAIL FROM, feedback
and resource tags through the real boto3 `sesv2` client, with v1's `ses` client showing
that both are views of one state; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import dkim as dkimpy
import dns.rdatatype
import dns.resolver
import dns.zone
import httpx
import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from ses_support import (
    Tenant,
    TenantFactory,
    error_of,
    verification_link,
    verification_mail,
    wait_for,
)

from postroom.testing.dns import TestDnsServer
from postroom.testing.fixtures import ses_client


@pytest.fixture
def database_url(engine_url: str) -> str:
    return engine_url


def sesv2(tenant: Tenant, region: str = "us-east-1") -> Any:
    return ses_client(tenant.server, tenant.credentials, region=region, service="sesv2")


def refused(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    return error_of(caught.value)


def publish(dns_server: TestDnsServer, zone_text: str, domain: str, only: str = "") -> None:
    """Publish the TXT records of `postroom identities dns-records` whose name holds `only`."""
    zone = dns.zone.from_text(zone_text, origin=f"{domain}.", relativize=False,
                              check_origin=False)  # fmt: skip
    for name, node in zone.nodes.items():
        for rdataset in node.rdatasets:
            if rdataset.rdtype == dns.rdatatype.TXT and only in name.to_text():
                for rdata in rdataset:
                    text = b"".join(rdata.strings).decode()
                    dns_server.add(name.to_text(omit_final_dot=True), "TXT", text)


def rsa_key(bits: int = 2048) -> tuple[str, str]:
    """(base64 DER private key as SES wants it, base64 SPKI public key for the record)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode(), base64.b64encode(spki).decode()


def dns_txt(dns_server: TestDnsServer) -> Callable[..., bytes]:
    """dkimpy's `dnsfunc` over the test DNS server."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns_server.address[0]]
    resolver.port = dns_server.address[1]

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        answer = resolver.resolve(name.decode().rstrip("."), "TXT")
        return b"".join(b"".join(r.strings) for r in answer)

    return lookup


def until_verified(v2: Any, name: str, timeout: float = 12.0) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        found: dict[str, Any] = v2.get_email_identity(EmailIdentity=name)
        return found if found["VerificationStatus"] == "SUCCESS" else None

    return wait_for(probe, timeout=timeout, interval=0.5)


def test_email_identity_is_one_state_with_v1(make_tenant: TenantFactory) -> None:
    tenant = make_tenant("mailer")
    v2, v1 = sesv2(tenant), tenant.client()
    created = v2.create_email_identity(EmailIdentity="Ann@Example.com",
                                       Tags=[{"Key": "team", "Value": "web"}])  # fmt: skip
    assert created["IdentityType"] == "EMAIL_ADDRESS"
    assert created["VerifiedForSendingStatus"] is False
    assert v1.list_identities()["Identities"] == ["Ann@example.com"]
    code, message, status = refused(
        lambda: v2.create_email_identity(EmailIdentity="Ann@example.com"))
    assert (code, status) == ("AlreadyExistsException", 400)
    assert message == "Email identity Ann@example.com already exist."

    pending = v2.get_email_identity(EmailIdentity="Ann@example.com")
    assert pending["VerificationStatus"] == "PENDING"
    assert pending["Tags"] == [{"Key": "team", "Value": "web"}]
    assert pending["FeedbackForwardingStatus"] is True
    assert pending["DkimAttributes"]["Status"] == "NOT_STARTED"
    assert pending["MailFromAttributes"] == {"BehaviorOnMxFailure": "USE_DEFAULT_VALUE"}
    assert pending["Policies"] == {}

    link = verification_link(verification_mail(tenant, "Ann@example.com"))
    assert httpx.get(link).status_code == 200
    done = v2.get_email_identity(EmailIdentity="Ann@example.com")
    assert done["VerificationStatus"] == "SUCCESS" and done["VerifiedForSendingStatus"] is True
    listed = v2.list_email_identities()["EmailIdentities"]
    assert listed == [{"IdentityType": "EMAIL_ADDRESS", "IdentityName": "Ann@example.com",
                       "SendingEnabled": True, "VerificationStatus": "SUCCESS"}]  # fmt: skip
    v1_status = v1.get_identity_verification_attributes(Identities=["Ann@example.com"])
    assert v1_status["VerificationAttributes"]["Ann@example.com"]["VerificationStatus"] == "Success"

    v2.delete_email_identity(EmailIdentity="Ann@example.com")
    assert v1.list_identities()["Identities"] == []
    code, message, status = refused(lambda: v2.get_email_identity(EmailIdentity="Ann@example.com"))
    assert (code, message, status) == (
        "NotFoundException", "Email identity Ann@example.com does not exist.", 404)
    assert refused(lambda: v2.delete_email_identity(EmailIdentity="Ann@example.com"))[0] == (
        "NotFoundException")


def test_domain_is_verified_by_its_dkim_records(make_tenant: TenantFactory,
                                                dns_server: TestDnsServer) -> None:
    tenant = make_tenant("domains")
    v2, v1 = sesv2(tenant), tenant.client()
    created = v2.create_email_identity(EmailIdentity="Sender.Test")
    assert created["IdentityType"] == "DOMAIN" and created["VerifiedForSendingStatus"] is False
    dkim = created["DkimAttributes"]
    assert dkim["SigningEnabled"] is True and dkim["Status"] == "PENDING"
    assert dkim["SigningAttributesOrigin"] == "AWS_SES"
    assert len(dkim["Tokens"]) == 3 and all(len(t) == 32 for t in dkim["Tokens"])
    assert v1.verify_domain_dkim(Domain="sender.test")["DkimTokens"] == dkim["Tokens"]
    assert "sender.test" in v1.list_identities(IdentityType="Domain")["Identities"]

    records = tenant.server.cli("identities", "dns-records", "sender.test", "--account", "domains")
    publish(dns_server, records.stdout, "sender.test", only="._domainkey.")  # no TXT token
    found = until_verified(v2, "sender.test")
    assert found["DkimAttributes"]["Status"] == "SUCCESS"
    assert found["VerifiedForSendingStatus"] is True
    v1_status = v1.get_identity_verification_attributes(Identities=["sender.test"])
    assert v1_status["VerificationAttributes"]["sender.test"]["VerificationStatus"] == "Success"
    # an address of a verified domain may send, though its own identity is pending
    v2.create_email_identity(EmailIdentity="app@sender.test")
    assert v2.get_email_identity(EmailIdentity="app@sender.test")["VerifiedForSendingStatus"]

    v2.put_email_identity_dkim_attributes(EmailIdentity="sender.test", SigningEnabled=False)
    off = v1.get_identity_dkim_attributes(Identities=["sender.test"])["DkimAttributes"]
    assert off["sender.test"]["DkimEnabled"] is False
    assert refused(lambda: v2.put_email_identity_dkim_attributes(
        EmailIdentity="other.test", SigningEnabled=True)) == (
        "NotFoundException", "Email identity other.test does not exist.", 404)


def test_byodkim_key_signs_when_published(make_tenant: TenantFactory,
                                          dns_server: TestDnsServer) -> None:
    tenant = make_tenant("byo", approve=True)
    v2 = sesv2(tenant)
    private, public = rsa_key()
    created = v2.create_email_identity(
        EmailIdentity="own.test",
        DkimSigningAttributes={"DomainSigningSelector": "s1", "DomainSigningPrivateKey": private},
    )
    assert created["DkimAttributes"]["SigningAttributesOrigin"] == "EXTERNAL"
    assert created["DkimAttributes"]["Tokens"] == ["s1"]
    dns_server.add("s1._domainkey.own.test", "TXT", f"v=DKIM1; k=rsa; p={public}")
    found = until_verified(v2, "own.test")
    assert found["DkimAttributes"]["Status"] == "SUCCESS"
    assert found["DkimAttributes"]["CurrentSigningKeyLength"] == "RSA_2048_BIT"
    sent = tenant.client().send_email(
        Source="app@own.test", Destination={"ToAddresses": ["someone@elsewhere.test"]},
        Message={"Subject": {"Data": "signed"}, "Body": {"Text": {"Data": "by my key"}}})
    raw = tenant.captured(sent["MessageId"])["raw"].encode()
    header = raw.split(b"\r\n\r\n")[0]
    assert raw.startswith(b"DKIM-Signature:") and b"s=s1;" in header and b"d=own.test" in header
    assert dkimpy.verify(raw, dnsfunc=dns_txt(dns_server))

    # another account may bring the same selector for its own domain of the same name
    other = sesv2(make_tenant("byo2"))
    private2, _ = rsa_key(1024)
    other.create_email_identity(EmailIdentity="own.test", DkimSigningAttributes={
        "DomainSigningSelector": "s1", "DomainSigningPrivateKey": private2})
    assert v2.get_email_identity(EmailIdentity="own.test")["DkimAttributes"]["Status"] == (
        "SUCCESS")

    back = v2.put_email_identity_dkim_signing_attributes(
        EmailIdentity="own.test", SigningAttributesOrigin="AWS_SES")
    assert back["DkimStatus"] == "PENDING" and len(back["DkimTokens"]) == 3
    again = v2.put_email_identity_dkim_signing_attributes(
        EmailIdentity="own.test", SigningAttributesOrigin="EXTERNAL",
        SigningAttributes={"DomainSigningSelector": "s2", "DomainSigningPrivateKey": private})
    assert again["DkimTokens"] == ["s2"]


@pytest.mark.parametrize("key", [
    base64.b64encode(b"not a key").decode(),
    rsa_key(512 + 512)[0][:200],  # truncated DER
])
def test_bad_byodkim_keys_are_bad_requests(make_tenant: TenantFactory, key: str) -> None:
    v2 = sesv2(make_tenant("badkey"))
    code, _, status = refused(lambda: v2.create_email_identity(
        EmailIdentity="bad.test",
        DkimSigningAttributes={"DomainSigningSelector": "s1", "DomainSigningPrivateKey": key}))
    assert (code, status) == ("BadRequestException", 400)
    assert refused(lambda: v2.get_email_identity(EmailIdentity="bad.test"))[0] == (
        "NotFoundException")  # nothing was created


def test_mail_from_and_feedback(make_tenant: TenantFactory) -> None:
    tenant = make_tenant("settings")
    v2, v1 = sesv2(tenant), tenant.client()
    v2.create_email_identity(EmailIdentity="corp.test")
    v2.put_email_identity_mail_from_attributes(
        EmailIdentity="corp.test", MailFromDomain="bounce.corp.test",
        BehaviorOnMxFailure="REJECT_MESSAGE")  # fmt: skip
    v2.put_email_identity_feedback_attributes(EmailIdentity="corp.test",
                                              EmailForwardingEnabled=False)  # fmt: skip
    found = v2.get_email_identity(EmailIdentity="corp.test")
    assert found["FeedbackForwardingStatus"] is False
    assert found["MailFromAttributes"]["MailFromDomain"] == "bounce.corp.test"
    assert found["MailFromAttributes"]["BehaviorOnMxFailure"] == "REJECT_MESSAGE"
    assert found["MailFromAttributes"]["MailFromDomainStatus"] in ("PENDING", "FAILED")
    v1_found = v1.get_identity_mail_from_domain_attributes(Identities=["corp.test"])
    assert v1_found["MailFromDomainAttributes"]["corp.test"]["BehaviorOnMXFailure"] == (
        "RejectMessage")
    for call in (
        lambda: v2.put_email_identity_mail_from_attributes(EmailIdentity="nope.test",
                                                           MailFromDomain="m.nope.test"),
        lambda: v2.put_email_identity_feedback_attributes(EmailIdentity="nope.test",
                                                          EmailForwardingEnabled=True),
    ):
        assert refused(call)[:3:2] == ("NotFoundException", 404)
    code, _, _ = refused(lambda: v2.put_email_identity_mail_from_attributes(
        EmailIdentity="corp.test", MailFromDomain="elsewhere.test"))
    assert code == "BadRequestException"


def test_list_pages_and_drift_route(make_tenant: TenantFactory) -> None:
    tenant = make_tenant("lister")
    v2 = sesv2(tenant)
    for name in ("a.test", "b.test", "c.test"):
        v2.create_email_identity(EmailIdentity=name)
    first = v2.list_email_identities(PageSize=2)
    assert [i["IdentityName"] for i in first["EmailIdentities"]] == ["a.test", "b.test"]
    rest = v2.list_email_identities(PageSize=2, NextToken=first["NextToken"])
    assert [i["IdentityName"] for i in rest["EmailIdentities"]] == ["c.test"]
    assert "NextToken" not in rest
    assert rest["EmailIdentities"][0]["IdentityType"] == "DOMAIN"
    assert refused(lambda: v2.list_email_identities(NextToken="!!"))[0] == "BadRequestException"


def test_tags_on_identities(make_tenant: TenantFactory) -> None:
    tenant, stranger = make_tenant("tagger"), make_tenant("stranger")
    v2 = sesv2(tenant)
    v2.create_email_identity(EmailIdentity="tagged.test")
    arn = f"arn:aws:ses:us-east-1:{tenant.account_id}:identity/tagged.test"
    v2.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"},
                                            {"Key": "b", "Value": ""}])  # fmt: skip
    v2.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "2"}])
    assert v2.list_tags_for_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "a", "Value": "2"}, {"Key": "b", "Value": ""}]
    v2.untag_resource(ResourceArn=arn, TagKeys=["b", "missing"])
    assert v2.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "a", "Value": "2"}]
    assert v2.get_email_identity(EmailIdentity="tagged.test")["Tags"] == [
        {"Key": "a", "Value": "2"}]

    # never visible across accounts or regions, nor for what does not exist
    other = sesv2(stranger)
    for call in (
        lambda: other.list_tags_for_resource(ResourceArn=arn),
        lambda: other.tag_resource(ResourceArn=arn, Tags=[{"Key": "x", "Value": "y"}]),
        lambda: other.untag_resource(ResourceArn=arn, TagKeys=["a"]),
        lambda: sesv2(tenant, "eu-west-1").list_tags_for_resource(
            ResourceArn=arn.replace("us-east-1", "eu-west-1")),
        lambda: v2.list_tags_for_resource(ResourceArn=arn.replace("tagged", "absent")),
        lambda: v2.list_tags_for_resource(ResourceArn=arn.replace("identity/", "widget/")),
    ):
        assert refused(call)[:3:2] == ("NotFoundException", 404)
    assert v2.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "a", "Value": "2"}]

    hostile = [
        [{"Key": "k" * 129, "Value": "v"}],
        [{"Key": "k", "Value": "v" * 257}],
        [{"Key": "bad\x00key", "Value": "v"}],
        [{"Key": "aws:owner", "Value": "v"}],
        [{"Key": "dup", "Value": "1"}, {"Key": "dup", "Value": "2"}],
        [{"Key": f"k{i}", "Value": "v"} for i in range(50)],  # 51 with "a"
    ]
    for bad in hostile:
        assert refused(lambda bad=bad: v2.tag_resource(ResourceArn=arn, Tags=bad))[0] == (
            "BadRequestException")
    for bad_arn in ("arn:aws:sqs:us-east-1:1:identity/x", "not-an-arn", "arn:aws:ses:" + "x" * 600):
        assert refused(lambda a=bad_arn: v2.list_tags_for_resource(ResourceArn=a))[0] == (
            "BadRequestException")
    v2.delete_email_identity(EmailIdentity="tagged.test")
    v2.create_email_identity(EmailIdentity="tagged.test")
    assert v2.list_tags_for_resource(ResourceArn=arn)["Tags"] == []  # tags left with it


def test_hostile_identity_names(make_tenant: TenantFactory) -> None:
    tenant, stranger = make_tenant("owner"), make_tenant("other")
    v2 = sesv2(tenant)
    for name in ("bad\x01.test", "x" * 400 + ".test", "a@b@c", "-.test", "<a@b.test>"):
        code, _, status = refused(lambda n=name: v2.create_email_identity(EmailIdentity=n))
        assert (code, status) == ("BadRequestException", 400), name
    assert v2.list_email_identities()["EmailIdentities"] == []
    v2.create_email_identity(EmailIdentity="mine.test")
    other = sesv2(stranger)
    assert other.list_email_identities()["EmailIdentities"] == []
    assert refused(lambda: other.get_email_identity(EmailIdentity="mine.test"))[0] == (
        "NotFoundException")
    assert refused(lambda: other.delete_email_identity(EmailIdentity="mine.test"))[0] == (
        "NotFoundException")
    other.create_email_identity(EmailIdentity="mine.test")  # each account has its own
    assert v2.get_email_identity(EmailIdentity="mine.test")["IdentityType"] == "DOMAIN"
    time.sleep(0)  # (identities are per account and region)
    assert sesv2(tenant, "eu-west-1").list_email_identities()["EmailIdentities"] == []


def test_tags_on_templates(make_tenant: TenantFactory) -> None:
    tenant = make_tenant("templater")
    v2 = sesv2(tenant)
    arn = f"arn:aws:ses:us-east-1:{tenant.account_id}:template/welcome"
    assert refused(lambda: v2.list_tags_for_resource(ResourceArn=arn))[0] == "NotFoundException"
    v2.create_email_template(TemplateName="welcome",
                             TemplateContent={"Subject": "Hi", "Text": "Hello"})  # fmt: skip
    v2.tag_resource(ResourceArn=arn, Tags=[{"Key": "owner", "Value": "web"}])
    assert v2.list_tags_for_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "owner", "Value": "web"}]
    other = sesv2(make_tenant("peer"))
    assert refused(lambda: other.list_tags_for_resource(ResourceArn=arn))[0] == (
        "NotFoundException")
