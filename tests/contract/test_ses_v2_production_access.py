"""Contract: the production-access request end to end, as the seed's user files it (SES v2
PutAccountDetails through boto3 `sesv2`) and the operator reviews it (`postroom accounts
requests|deny|approve`), with GetAccount after each step; and the state that is per region
as on SES (quotas, sandbox, sending switch, statistics). SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from ses_support import Tenant, TenantFactory, error_of, wait_for

from postroom.testing.fixtures import ses_client

SEOUL = "ap-northeast-2"
DETAILS: dict[str, Any] = {
    "MailType": "TRANSACTIONAL",
    "WebsiteURL": "https://shop.example",
    "ContactLanguage": "EN",
    "UseCaseDescription": "비밀번호를 잊은 회원에게 임시 비밀번호를 보냅니다.",
    "AdditionalContactEmailAddresses": ["ops@shop.example"],
}


def sesv2(tenant: Tenant, region: str = SEOUL) -> Any:
    return ses_client(tenant.server, tenant.credentials, region=region, service="sesv2")


def refusal(call: Any, **kw: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as raised:
        call(**kw)
    return error_of(raised.value)


@pytest.fixture
def database_url(engine_url: str) -> str:
    return engine_url


def test_request_pending_conflict_deny_then_approve(make_tenant: TenantFactory) -> None:
    tenant = make_tenant("seed")
    client = sesv2(tenant)
    assert "Details" not in client.get_account()

    client.put_account_details(**DETAILS, ProductionAccessEnabled=True)
    account = client.get_account()
    review = account["Details"].pop("ReviewDetails")
    assert account["Details"] == DETAILS
    assert review["Status"] == "PENDING" and review["CaseId"].isdigit()
    assert account["ProductionAccessEnabled"] is False
    assert account["SendQuota"] == {"Max24HourSend": 200, "MaxSendRate": 1, "SentLast24Hours": 0}

    code, message, status = refusal(client.put_account_details, **DETAILS,
                                    ProductionAccessEnabled=True)  # fmt: skip
    assert (code, status) == ("ConflictException", 409)
    assert f"already pending review (case {review['CaseId']})" in message

    [pending] = tenant.server.cli_json("accounts", "requests")
    assert pending["account"] == "seed" and pending["region"] == SEOUL
    assert pending["case_id"] == review["CaseId"] and pending["mail_type"] == "TRANSACTIONAL"
    assert pending["use_case"] == DETAILS["UseCaseDescription"]
    assert "seed" in tenant.server.cli("accounts", "requests").stdout

    [denied] = tenant.server.cli_json("accounts", "deny", "seed", "--reason", "Describe bounces.")
    assert denied["case_id"] == review["CaseId"]
    account = client.get_account()
    assert account["Details"]["ReviewDetails"] == {"Status": "DENIED", "CaseId": review["CaseId"]}
    assert account["ProductionAccessEnabled"] is False
    assert tenant.server.cli_json("accounts", "requests") == []
    again = tenant.server.cli("accounts", "deny", "seed", "--reason", "x", check=False)
    assert again.returncode == 1 and "no production access request pending" in again.stderr

    # A new request after a denial waits a day (the shared rate limit).
    code, message, status = refusal(client.put_account_details, **DETAILS,
                                    ProductionAccessEnabled=True)  # fmt: skip
    assert (code, status) == ("TooManyRequestsException", 429)
    assert "at most one request a day" in message

    # The operator grants in the request's region: GRANTED, out of the sandbox there only.
    tenant.server.cli("accounts", "approve", "seed", "--region", SEOUL)
    account = client.get_account()
    assert account["ProductionAccessEnabled"] is True
    assert account["Details"]["ReviewDetails"]["Status"] == "DENIED"  # the last request's
    assert account["SendQuota"]["Max24HourSend"] == 50000
    assert sesv2(tenant, "us-east-1").get_account()["ProductionAccessEnabled"] is False
    # In production, details alone are recorded: no new request is filed.
    client.put_account_details(**{**DETAILS, "MailType": "MARKETING"},
                               ProductionAccessEnabled=True)  # fmt: skip
    assert client.get_account()["Details"]["MailType"] == "MARKETING"
    assert tenant.server.cli_json("accounts", "requests") == []


def test_a_pending_request_is_granted_by_approve_without_a_region(
    make_tenant: TenantFactory,
) -> None:
    tenant = make_tenant("seed")
    client = sesv2(tenant)
    client.put_account_details(**DETAILS, ProductionAccessEnabled=True)
    tenant.server.cli("accounts", "approve", "seed")
    account = client.get_account()
    assert account["Details"]["ReviewDetails"]["Status"] == "GRANTED"
    assert account["ProductionAccessEnabled"] is True
    for region in ("us-east-1", "eu-west-1"):  # every region, used or not yet
        assert sesv2(tenant, region).get_account()["ProductionAccessEnabled"] is True
    v1 = ses_client(tenant.server, tenant.credentials, region="eu-west-1")
    assert v1.get_send_quota()["Max24HourSend"] == 50000.0


def test_bad_details_are_refused_in_ses_terms(make_tenant: TenantFactory) -> None:
    client = sesv2(make_tenant("seed"))
    code, message, status = refusal(client.put_account_details, MailType="SPAM",
                                    WebsiteURL="https://x.example")  # fmt: skip
    assert (code, status) == ("BadRequestException", 400)
    assert "Member must satisfy enum value set: [MARKETING, TRANSACTIONAL]" in message
    long_case = {**DETAILS, "UseCaseDescription": "x" * 5001}
    code, message, status = refusal(client.put_account_details, **long_case)
    assert (code, status) == ("BadRequestException", 400)
    assert "length less than or equal to 5000" in message
    too_many = {**DETAILS, "AdditionalContactEmailAddresses": [f"a{i}@x.example"
                                                               for i in range(5)]}  # fmt: skip
    assert refusal(client.put_account_details, **too_many)[0] == "BadRequestException"
    assert "Details" not in client.get_account()  # nothing half-written


def test_quotas_switch_and_statistics_are_per_region(make_tenant: TenantFactory) -> None:
    tenant = make_tenant("regions")
    seoul, virginia = tenant.client(SEOUL), tenant.client("us-east-1")
    tenant.server.cli("accounts", "approve", "regions", "--region", "us-east-1",
                      "--max-rate", "50")  # fmt: skip
    assert virginia.get_send_quota()["MaxSendRate"] == 50.0
    assert seoul.get_send_quota()["MaxSendRate"] == 1.0

    seoul.update_account_sending_enabled(Enabled=False)
    assert seoul.get_account_sending_enabled()["Enabled"] is False
    assert virginia.get_account_sending_enabled()["Enabled"] is True
    [row] = tenant.server.cli_json("accounts", "list", "--region", SEOUL)
    assert (row["region"], row["paused_by"], row["sandbox"]) == (SEOUL, ["tenant"], True)
    [row] = tenant.server.cli_json("accounts", "list", "--region", "us-east-1")
    assert (row["paused_by"], row["sandbox"]) == ([], False)

    tenant.server.verify_address(virginia, "regions", "me@example.com")
    virginia.send_email(
        Source="me@example.com",
        Destination={"ToAddresses": ["someone@customer.example"]},
        Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}},
    )
    assert virginia.get_send_quota()["SentLast24Hours"] == 1.0
    assert seoul.get_send_quota()["SentLast24Hours"] == 0.0
    points = wait_for(lambda: virginia.get_send_statistics()["SendDataPoints"], timeout=10)
    assert sum(p["DeliveryAttempts"] for p in points) == 1
    assert seoul.get_send_statistics()["SendDataPoints"] == []
