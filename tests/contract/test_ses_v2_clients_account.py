"""Contract: the account and its suppression list over SES v2 through two clients we did not
write, the AWS CLI (`aws sesv2`) and @aws-sdk/client-sesv2 (sesv2_clients.py), against a
real `postroom serve`: GetAccount, PutAccountDetails (the production-access request),
PutAccountSendingAttributes, PutAccountSuppressionAttributes,
Put/Get/Delete/ListSuppressedDestination(s), and the answer to an operation Postroom does
not serve yet. The boto3 `sesv2` versions of these
checks, with more of the edge cases, are test_ses_v2_account.py and test_ses_v2_boto3.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ses_support import TenantFactory
from sesv2_clients import AwsCliForks, Sesv2ClientFor, When, call, instant
from test_aws_cli import _aws, aws_args, aws_env

SANDBOX_ACCOUNT = {
    "DedicatedIpAutoWarmupEnabled": False,
    "EnforcementStatus": "HEALTHY",
    "ProductionAccessEnabled": False,
    "SendQuota": {"Max24HourSend": 200, "MaxSendRate": 1, "SentLast24Hours": 0},
    "SendingEnabled": True,
    "SuppressionAttributes": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
}
GONE, ANGRY = "gone@customer.example", "angry@customer.example"


def not_listed(address: str) -> str:
    return f"Email address {address} does not exist on your suppression list."


def test_account_and_suppression_list(
    sesv2_client_for: Sesv2ClientFor, shared_tenant_factory: TenantFactory
) -> None:
    tenant = shared_tenant_factory(f"account-{sesv2_client_for.kind}")
    client = sesv2_client_for(tenant)
    started = datetime.now(UTC) - timedelta(seconds=1)
    later = started + timedelta(hours=1)
    simple = {"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Hi there."}}}}

    (
        account, reasons, bad_reasons, paused, gone, angry, bad_address, unsupported,
        account_after, send_paused, found, everything, first_page, complaints, in_window,
        after_window, bad_token, deleted, gone_again, deleted_again, resumed,
    ) = client.run(
        call("GetAccount"),
        call("PutAccountSuppressionAttributes", SuppressedReasons=["COMPLAINT"]),
        call("PutAccountSuppressionAttributes", SuppressedReasons=["BOUNCE", "SPAM"]),
        call("PutAccountSendingAttributes", SendingEnabled=False),
        call("PutSuppressedDestination", EmailAddress=GONE.upper(), Reason="BOUNCE"),
        call("PutSuppressedDestination", EmailAddress=ANGRY, Reason="COMPLAINT"),
        call("PutSuppressedDestination", EmailAddress="no-at-sign", Reason="BOUNCE"),
        call("CreateDedicatedIpPool", PoolName="pool"),
        call("GetAccount"),
        call("SendEmail", FromEmailAddress="me@example.com",
             Destination={"ToAddresses": ["ann@example.com"]}, Content=simple),
        call("GetSuppressedDestination", EmailAddress=ANGRY),
        call("ListSuppressedDestinations"),
        call("ListSuppressedDestinations", PageSize=1),
        call("ListSuppressedDestinations", Reasons=["COMPLAINT"]),
        call("ListSuppressedDestinations", StartDate=When(started), EndDate=When(later)),
        call("ListSuppressedDestinations", StartDate=When(later)),
        call("ListSuppressedDestinations", NextToken="!!"),
        call("DeleteSuppressedDestination", EmailAddress=GONE),
        call("GetSuppressedDestination", EmailAddress=GONE),
        call("DeleteSuppressedDestination", EmailAddress=GONE),
        call("PutAccountSendingAttributes", SendingEnabled=True),
    )  # fmt: skip

    assert account.ok() == SANDBOX_ACCOUNT
    assert reasons.ok() == {}
    assert "SPAM" in bad_reasons.refused("BadRequestException", 400)
    assert paused.ok() == gone.ok() == angry.ok() == {}
    bad_address.refused("BadRequestException", 400)
    unsupported.refused("BadRequestException", 400,
                        "The operation CreateDedicatedIpPool is not supported by Postroom yet.")
    assert account_after.ok() == {
        **SANDBOX_ACCOUNT, "SendingEnabled": False,
        "SuppressionAttributes": {"SuppressedReasons": ["COMPLAINT"]},
    }  # fmt: skip
    send_paused.refused("SendingPausedException", 400, "Sending is paused for this account.")

    entry = found.ok()["SuppressedDestination"]
    assert started <= instant(entry.pop("LastUpdateTime")) <= datetime.now(UTC)
    assert entry == {"EmailAddress": ANGRY, "Reason": "COMPLAINT", "Attributes": {}}
    summaries = everything.ok()["SuppressedDestinationSummaries"]
    assert "NextToken" not in everything.ok()
    assert [(s["EmailAddress"], s["Reason"]) for s in summaries] == [
        (ANGRY, "COMPLAINT"), (GONE, "BOUNCE")]  # fmt: skip (newest first; GONE lower-cased)
    assert all(started <= instant(s["LastUpdateTime"]) for s in summaries)
    page = first_page.ok()
    assert page["SuppressedDestinationSummaries"] == summaries[:1] and page["NextToken"]
    assert [s["EmailAddress"] for s in complaints.ok()["SuppressedDestinationSummaries"]] == [
        ANGRY]  # fmt: skip
    assert in_window.ok() == everything.ok()
    assert after_window.ok() == {"SuppressedDestinationSummaries": []}
    bad_token.refused("BadRequestException", 400, "Invalid NextToken.")

    assert deleted.ok() == {}
    gone_again.refused("NotFoundException", 404, not_listed(GONE))
    deleted_again.refused("NotFoundException", 404, not_listed(GONE))
    assert resumed.ok() == {}

    # The operator's pause is not the tenant's to lift; a wrong secret is not signed right.
    tenant.server.cli("accounts", "pause", tenant.name)
    refused_resume, still_paused = client.run(
        call("PutAccountSendingAttributes", SendingEnabled=True), call("GetAccount"))
    assert "only the operator can resume it" in refused_resume.refused(
        "AccessDeniedException", 403)
    assert still_paused.ok()["SendingEnabled"] is False
    stranger = replace(tenant, credentials={**tenant.credentials,
                                            "secret_access_key": "not-the-secret"})
    (unsigned,) = sesv2_client_for(stranger).run(call("GetAccount"))
    assert unsigned.refused("InvalidSignatureException", 403).startswith(
        "The request signature we calculated does not match")


def test_forked_cli_answers_as_the_aws_binary(
    aws_cli_forks: AwsCliForks, shared_tenant_factory: TenantFactory
) -> None:
    """sesv2_clients runs the CLI through aws_cli_forks.py; `.venv/bin/aws` itself must
    answer the same, byte for byte, success and error alike."""
    tenant = shared_tenant_factory("forks")
    server, creds = tenant.server, tenant.credentials
    for args in (["get-account"], ["get-email-identity", "--email-identity", "nope.test"]):
        binary = _aws(server, creds, *args, service="sesv2")
        forked = aws_cli_forks.run(aws_args(server, "sesv2", *args), aws_env(server, creds))
        assert (forked.returncode, forked.stdout, forked.stderr) == (
            binary.returncode, binary.stdout, binary.stderr)  # fmt: skip
    assert binary.returncode == 255 and "(NotFoundException)" in binary.stderr


DETAILS = {
    "MailType": "TRANSACTIONAL", "WebsiteURL": "https://shop.example", "ContactLanguage": "EN",
    "UseCaseDescription": "임시 비밀번호 메일",
    "AdditionalContactEmailAddresses": ["ops@shop.example"],
}  # fmt: skip


def test_production_access_request(
    sesv2_client_for: Sesv2ClientFor, shared_tenant_factory: TenantFactory
) -> None:
    tenant = shared_tenant_factory(f"access-{sesv2_client_for.kind}")
    client = sesv2_client_for(tenant)
    filed, pending, again, bad = client.run(
        call("PutAccountDetails", **DETAILS, ProductionAccessEnabled=True),
        call("GetAccount"),
        call("PutAccountDetails", **DETAILS, ProductionAccessEnabled=True),
        call("PutAccountDetails", MailType="SPAM", WebsiteURL="https://shop.example"),
    )
    assert filed.ok() == {}
    details = pending.ok()["Details"]
    review = details.pop("ReviewDetails")
    assert details == DETAILS and review["Status"] == "PENDING"
    assert f"(case {review['CaseId']})" in again.refused("ConflictException", 409)
    assert "MARKETING, TRANSACTIONAL" in bad.refused("BadRequestException", 400)

    tenant.server.cli("accounts", "deny", tenant.name, "--reason", "Tell us more.")
    denied, too_soon = client.run(
        call("GetAccount"), call("PutAccountDetails", **DETAILS, ProductionAccessEnabled=True)
    )
    assert denied.ok()["Details"]["ReviewDetails"] == {"Status": "DENIED",
                                                       "CaseId": review["CaseId"]}  # fmt: skip
    assert "at most one request a day" in too_soon.refused("TooManyRequestsException", 429)
    tenant.server.cli("accounts", "approve", tenant.name)
    (granted,) = client.run(call("GetAccount"))
    assert granted.ok()["ProductionAccessEnabled"] is True
    assert granted.ok()["SendQuota"]["Max24HourSend"] == 50000
