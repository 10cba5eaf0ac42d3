"""Contract: SES v2 email identities and resource tags through two clients we did not write,
the AWS CLI (`aws sesv2`) and @aws-sdk/client-sesv2 (sesv2_clients.py), against a real
`postroom serve`: Create/Get/Delete/ListEmailIdentit(y|ies) (an address verified by the
link its mail carries, Easy DKIM, and BYODKIM with a key made here whose record is
published on the test DNS server), PutEmailIdentityDkimAttributes,
PutEmailIdentityDkimSigningAttributes, PutEmailIdentityMailFromAttributes,
PutEmailIdentityFeedbackAttributes, TagResource, UntagResource, ListTagsForResource.
The boto3 `sesv2` versions, with more edge cases: test_ses_v2_identities.py.
"""

from __future__ import annotations

from typing import Any

import httpx
from ses_support import TenantFactory, verification_link, verification_mail
from sesv2_clients import REGION, Outcome, Sesv2ClientFor, call
from test_ses_v2_identities import rsa_key

from postroom.testing.dns import TestDnsServer

ANN = "ann@example.com"
TEAM = [{"Key": "team", "Value": "web"}]


def missing(name: str) -> str:
    return f"Email identity {name} does not exist."


def dkim_of(outcome: Outcome) -> dict[str, Any]:
    found: dict[str, Any] = outcome.ok()["DkimAttributes"]
    return found


def test_identities_dkim_mail_from_and_feedback(
    sesv2_client_for: Sesv2ClientFor, shared_tenant_factory: TenantFactory,
    shared_dns: TestDnsServer,
) -> None:  # fmt: skip
    kind = sesv2_client_for.kind
    tenant = shared_tenant_factory(f"identities-{kind}")
    client = sesv2_client_for(tenant)
    easy, byo = f"easy-{kind}.test", f"byo-{kind}.test"
    private, public = rsa_key()
    second_key, _ = rsa_key(1024)
    shared_dns.add(f"s1._domainkey.{byo}", "TXT", f"v=DKIM1; k=rsa; p={public}")

    (
        created, duplicate, created_easy, created_byo, bad_key, pending, byo_found, absent,
        listed, first_page, bad_token, dkim_off, dkim_absent, to_easy_dkim, to_byodkim,
        signing_absent, mail_from, mail_from_elsewhere, mail_from_absent, feedback,
        feedback_absent, easy_found,
    ) = client.run(
        call("CreateEmailIdentity", EmailIdentity=ANN, Tags=TEAM),
        call("CreateEmailIdentity", EmailIdentity=ANN),
        call("CreateEmailIdentity", EmailIdentity=easy),
        call("CreateEmailIdentity", EmailIdentity=byo, DkimSigningAttributes={
            "DomainSigningSelector": "s1", "DomainSigningPrivateKey": private}),
        call("CreateEmailIdentity", EmailIdentity="bad-key.test", DkimSigningAttributes={
            "DomainSigningSelector": "s1", "DomainSigningPrivateKey": "bm90IGEga2V5"}),
        call("GetEmailIdentity", EmailIdentity=ANN),
        call("GetEmailIdentity", EmailIdentity=byo),
        call("GetEmailIdentity", EmailIdentity="nope.test"),
        call("ListEmailIdentities"),
        call("ListEmailIdentities", PageSize=2),
        call("ListEmailIdentities", NextToken="!!"),
        call("PutEmailIdentityDkimAttributes", EmailIdentity=easy, SigningEnabled=False),
        call("PutEmailIdentityDkimAttributes", EmailIdentity="nope.test", SigningEnabled=True),
        call("PutEmailIdentityDkimSigningAttributes", EmailIdentity=byo,
             SigningAttributesOrigin="AWS_SES"),
        call("PutEmailIdentityDkimSigningAttributes", EmailIdentity=byo,
             SigningAttributesOrigin="EXTERNAL", SigningAttributes={
                 "DomainSigningSelector": "s2", "DomainSigningPrivateKey": second_key}),
        call("PutEmailIdentityDkimSigningAttributes", EmailIdentity="nope.test",
             SigningAttributesOrigin="AWS_SES"),
        call("PutEmailIdentityMailFromAttributes", EmailIdentity=easy,
             MailFromDomain=f"bounce.{easy}", BehaviorOnMxFailure="REJECT_MESSAGE"),
        call("PutEmailIdentityMailFromAttributes", EmailIdentity=easy,
             MailFromDomain="elsewhere.test"),
        call("PutEmailIdentityMailFromAttributes", EmailIdentity="nope.test",
             MailFromDomain="bounce.nope.test"),
        call("PutEmailIdentityFeedbackAttributes", EmailIdentity=ANN,
             EmailForwardingEnabled=False),
        call("PutEmailIdentityFeedbackAttributes", EmailIdentity="nope.test",
             EmailForwardingEnabled=True),
        call("GetEmailIdentity", EmailIdentity=easy),
    )  # fmt: skip

    assert created.ok() == {
        "IdentityType": "EMAIL_ADDRESS", "VerifiedForSendingStatus": False,
        "DkimAttributes": {"SigningEnabled": False, "Status": "NOT_STARTED",
                           "SigningAttributesOrigin": "AWS_SES"},
    }  # fmt: skip
    duplicate.refused("AlreadyExistsException", 400, f"Email identity {ANN} already exist.")
    assert created_easy.ok()["IdentityType"] == "DOMAIN"
    easy_dkim = dkim_of(created_easy)
    assert (easy_dkim["SigningEnabled"], easy_dkim["Status"]) == (True, "PENDING")
    assert easy_dkim["SigningAttributesOrigin"] == "AWS_SES"
    assert len(easy_dkim["Tokens"]) == 3 and all(len(t) == 32 for t in easy_dkim["Tokens"])
    assert dkim_of(created_byo)["SigningAttributesOrigin"] == "EXTERNAL"
    assert dkim_of(created_byo)["Tokens"] == ["s1"]
    bad_key.refused("BadRequestException", 400)

    found = pending.ok()
    assert (found["VerificationStatus"], found["VerifiedForSendingStatus"]) == ("PENDING", False)
    assert found["Tags"] == TEAM and found["Policies"] == {}
    assert found["FeedbackForwardingStatus"] is True
    assert found["MailFromAttributes"] == {"BehaviorOnMxFailure": "USE_DEFAULT_VALUE"}
    # The published key verified the BYODKIM domain at the first look.
    assert byo_found.ok()["VerificationStatus"] == "SUCCESS"
    assert dkim_of(byo_found)["Status"] == "SUCCESS"
    assert dkim_of(byo_found)["CurrentSigningKeyLength"] == "RSA_2048_BIT"
    absent.refused("NotFoundException", 404, missing("nope.test"))

    summaries = listed.ok()["EmailIdentities"]
    assert sorted((i["IdentityName"], i["IdentityType"]) for i in summaries) == [
        (ANN, "EMAIL_ADDRESS"), (byo, "DOMAIN"), (easy, "DOMAIN")]  # fmt: skip
    assert {i["IdentityName"]: i["VerificationStatus"] for i in summaries} == {
        ANN: "PENDING", byo: "SUCCESS", easy: "PENDING"}  # fmt: skip
    assert "NextToken" not in listed.ok()
    assert first_page.ok()["EmailIdentities"] == summaries[:2] and first_page.ok()["NextToken"]
    bad_token.refused("BadRequestException", 400)

    assert dkim_off.ok() == {}
    dkim_absent.refused("NotFoundException", 404, missing("nope.test"))
    back = to_easy_dkim.ok()
    assert back["DkimStatus"] == "PENDING" and len(back["DkimTokens"]) == 3
    assert to_byodkim.ok()["DkimTokens"] == ["s2"]
    signing_absent.refused("NotFoundException", 404, missing("nope.test"))
    assert mail_from.ok() == {}
    mail_from_elsewhere.refused("BadRequestException", 400)
    mail_from_absent.refused("NotFoundException", 404, missing("nope.test"))
    assert feedback.ok() == {}
    feedback_absent.refused("NotFoundException", 404, missing("nope.test"))
    settings = easy_found.ok()
    assert settings["DkimAttributes"]["SigningEnabled"] is False
    mail_from_shown = settings["MailFromAttributes"]
    assert mail_from_shown.pop("MailFromDomainStatus") in ("PENDING", "FAILED")
    assert mail_from_shown == {"MailFromDomain": f"bounce.{easy}",
                               "BehaviorOnMxFailure": "REJECT_MESSAGE"}  # fmt: skip

    # The address is verified as its owner does it: the link in the mail it was sent.
    link = verification_link(verification_mail(tenant, ANN))
    assert httpx.get(link).status_code == 200
    arn = f"arn:aws:ses:{REGION}:{tenant.account_id}:identity/{easy}"
    absent_arn = arn.replace(easy, "absent.test")

    (
        verified, deleted, deleted_again, gone, tagged, tag_absent, tags, tags_bad_arn,
        untagged, untag_absent, tags_after,
    ) = client.run(
        call("GetEmailIdentity", EmailIdentity=ANN),
        call("DeleteEmailIdentity", EmailIdentity=ANN),
        call("DeleteEmailIdentity", EmailIdentity=ANN),
        call("GetEmailIdentity", EmailIdentity=ANN),
        call("TagResource", ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"},
                                                    {"Key": "b", "Value": ""}]),
        call("TagResource", ResourceArn=absent_arn, Tags=TEAM),
        call("ListTagsForResource", ResourceArn=arn),
        call("ListTagsForResource", ResourceArn="not-an-arn"),
        call("UntagResource", ResourceArn=arn, TagKeys=["b", "never-set"]),
        call("UntagResource", ResourceArn=absent_arn, TagKeys=["a"]),
        call("ListTagsForResource", ResourceArn=arn),
    )  # fmt: skip

    found = verified.ok()
    assert (found["VerificationStatus"], found["VerifiedForSendingStatus"]) == ("SUCCESS", True)
    assert found["FeedbackForwardingStatus"] is False
    assert deleted.ok() == {}
    deleted_again.refused("NotFoundException", 404, missing(ANN))
    gone.refused("NotFoundException", 404, missing(ANN))
    assert tagged.ok() == {}
    tag_absent.refused("NotFoundException", 404, f"Resource {absent_arn} does not exist.")
    assert tags.ok() == {"Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}]}
    tags_bad_arn.refused("BadRequestException", 400)
    assert untagged.ok() == {}
    untag_absent.refused("NotFoundException", 404, f"Resource {absent_arn} does not exist.")
    assert tags_after.ok() == {"Tags": [{"Key": "a", "Value": "1"}]}
