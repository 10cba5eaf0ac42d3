"""Contract: SES v2 account operations through boto3 `sesv2`, against a real server, with
boto3 `ses` (v1) and the CLI showing the same state: GetAccount, PutAccountSendingAttributes,
PutAccountSuppressionAttributes and the account-level suppression list
(Put/Get/Delete/ListSuppressedDestination(s)). Storage on SQLite and PostgreSQL; hostile
input on a shared SQLite server."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ses_support import Tenant, TenantFactory, error_of, simple_message, wait_for

from postroom.testing.fixtures import ses_client


def sesv2(tenant: Tenant) -> Any:
    return ses_client(tenant.server, tenant.credentials, service="sesv2")


def cli_list(tenant: Tenant) -> dict[str, str]:
    """`postroom suppression list --account NAME --json`: address -> reason."""
    rows = tenant.server.cli_json("suppression", "list", "--account", tenant.name)
    return {r["address"]: r["reason"] for r in rows}


def listed(client: Any, **kw: Any) -> list[tuple[str, str]]:
    """Every (address, reason) of ListSuppressedDestinations, following NextToken."""
    found: list[tuple[str, str]] = []
    while True:
        page = client.list_suppressed_destinations(**kw)
        found += [(s["EmailAddress"], s["Reason"]) for s in page["SuppressedDestinationSummaries"]]
        if "NextToken" not in page:
            return found
        kw["NextToken"] = page["NextToken"]


def refusal(call: Any, **kw: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as raised:
        call(**kw)
    return error_of(raised.value)


def not_listed(address: str) -> tuple[str, str, int]:
    message = f"Email address {address} does not exist on your suppression list."
    return ("NotFoundException", message, 404)


# -- one state, on both engines -------------------------------------------------------------
class TestOnBothEngines:
    @pytest.fixture
    def database_url(self, engine_url: str) -> str:
        return engine_url

    def test_the_list_is_one_state_for_v2_the_cli_and_delivery(
        self, make_tenant: TenantFactory, verify_domain_of: Any
    ) -> None:
        tenant = make_tenant("acme", approve=True, max_rate=50)
        client, v1 = sesv2(tenant), tenant.client()
        before = datetime.now(UTC) - timedelta(seconds=1)
        client.put_suppressed_destination(EmailAddress="Gone@Customer.example", Reason="BOUNCE")
        tenant.server.cli("suppression", "add", "angry@customer.example", "--account",
                          tenant.name, "--reason", "COMPLAINT")  # fmt: skip
        assert cli_list(tenant) == {"gone@customer.example": "BOUNCE",
                                    "angry@customer.example": "COMPLAINT"}  # fmt: skip

        found = client.get_suppressed_destination(EmailAddress="angry@customer.example")
        entry = found["SuppressedDestination"]
        assert (entry["EmailAddress"], entry["Reason"]) == ("angry@customer.example", "COMPLAINT")
        assert before <= entry["LastUpdateTime"] <= datetime.now(UTC) + timedelta(seconds=1)
        assert entry["Attributes"] == {}
        assert sorted(listed(client)) == [("angry@customer.example", "COMPLAINT"),
                                          ("gone@customer.example", "BOUNCE")]  # fmt: skip

        # a v1 send to a listed address bounces without an attempt, as the rules say
        verify_domain_of(v1, "example.com")
        sent = v1.send_email(Source="me@example.com", Message=simple_message(),
                             Destination={"ToAddresses": ["gone@customer.example"]})  # fmt: skip

        def bounced() -> dict[str, Any] | None:
            events = tenant.events(sent["MessageId"])
            return next((e for e in events if e["eventType"] == "Bounce"), None)

        bounce = wait_for(bounced, timeout=20)
        assert bounce["bounce"]["bounceSubType"] == "OnAccountSuppressionList"

        client.delete_suppressed_destination(EmailAddress="GONE@customer.example")
        assert cli_list(tenant) == {"angry@customer.example": "COMPLAINT"}
        get, delete = client.get_suppressed_destination, client.delete_suppressed_destination
        assert refusal(get, EmailAddress="gone@customer.example") == not_listed(
            "gone@customer.example"
        )
        assert refusal(delete, EmailAddress="gone@customer.example")[0] == "NotFoundException"

    def test_suppression_attributes_and_get_account(self, make_tenant: TenantFactory) -> None:
        tenant = make_tenant("acme")
        client = sesv2(tenant)
        account = client.get_account()
        assert account["SuppressionAttributes"] == {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]}
        assert account["ProductionAccessEnabled"] is False and "Details" not in account
        client.put_account_suppression_attributes(SuppressedReasons=["COMPLAINT"])
        assert client.get_account()["SuppressionAttributes"] == {"SuppressedReasons": ["COMPLAINT"]}
        client.put_account_suppression_attributes(SuppressedReasons=[])
        assert client.get_account()["SuppressionAttributes"] == {"SuppressedReasons": []}

        tenant.approve(max_24h=1000, max_rate=5)
        account = client.get_account()
        assert account["ProductionAccessEnabled"] is True
        assert account["SendQuota"] == {"Max24HourSend": 1000.0, "MaxSendRate": 5.0,
                                        "SentLast24Hours": 0.0}  # fmt: skip

    def test_the_sending_switch_is_v1s_with_its_owners(self, make_tenant: TenantFactory) -> None:
        tenant = make_tenant("acme")
        client, v1 = sesv2(tenant), tenant.client()
        client.put_account_sending_attributes(SendingEnabled=False)
        assert v1.get_account_sending_enabled()["Enabled"] is False
        assert client.get_account()["SendingEnabled"] is False
        client.put_account_sending_attributes(SendingEnabled=True)
        assert v1.get_account_sending_enabled()["Enabled"] is True

        tenant.server.cli("accounts", "pause", tenant.name)
        code, message, status = refusal(client.put_account_sending_attributes,
                                        SendingEnabled=True)  # fmt: skip
        assert (code, status) == ("AccessDeniedException", 403)
        assert "only the operator can resume it" in message
        assert client.get_account()["SendingEnabled"] is False


# -- listing ----------------------------------------------------------------------------------
def test_list_filters_and_pages(shared_tenant_factory: TenantFactory) -> None:
    tenant = shared_tenant_factory("lister")
    client = sesv2(tenant)
    start = datetime.now(UTC) - timedelta(seconds=1)
    for i in range(5):
        reason = "BOUNCE" if i % 2 == 0 else "COMPLAINT"
        client.put_suppressed_destination(EmailAddress=f"a{i}@customer.example", Reason=reason)
        time.sleep(0.01)
    everything = listed(client)
    assert [a for a, _ in everything] == [f"a{i}@customer.example" for i in (4, 3, 2, 1, 0)]
    assert listed(client, PageSize=2) == everything
    first = client.list_suppressed_destinations(PageSize=2)
    assert len(first["SuppressedDestinationSummaries"]) == 2 and first["NextToken"]
    assert listed(client, Reasons=["COMPLAINT"], PageSize=1) == [
        ("a3@customer.example", "COMPLAINT"), ("a1@customer.example", "COMPLAINT"),
    ]  # fmt: skip
    assert len(listed(client, StartDate=start, EndDate=datetime.now(UTC))) == 5
    assert listed(client, StartDate=datetime.now(UTC) + timedelta(hours=1)) == []
    assert listed(client, EndDate=start) == []


# -- hostile input ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "address",
    ["a\x01b@customer.example", "a\tb@customer.example", "user@[127.0.0.1]",
     "user@[IPv6:::1]", "no-at-sign", "x" * 65 + "@customer.example"],
)  # fmt: skip
def test_bad_addresses_are_bad_requests(shared_tenant: Tenant, address: str) -> None:
    client = sesv2(shared_tenant)
    for call, kw in (
        (client.put_suppressed_destination, {"Reason": "BOUNCE"}),
        (client.get_suppressed_destination, {}),
        (client.delete_suppressed_destination, {}),
    ):
        code, _message, status = refusal(call, EmailAddress=address, **kw)
        assert (code, status) == ("BadRequestException", 400), call
    assert address.lower() not in cli_list(shared_tenant)


@pytest.mark.parametrize(
    "kw",
    [{"PageSize": 0}, {"PageSize": 1001}, {"NextToken": "bm90IGEgbnVtYmVy"},
     {"NextToken": "!!!"}, {"NextToken": "A" * 200}, {"Reasons": ["SPAM"]}],
)  # fmt: skip
def test_bad_list_requests_are_bad_requests(shared_tenant: Tenant, kw: dict[str, Any]) -> None:
    code, _message, status = refusal(sesv2(shared_tenant).list_suppressed_destinations, **kw)
    assert (code, status) == ("BadRequestException", 400)


def test_bad_reasons_are_bad_requests(shared_tenant: Tenant) -> None:
    client = sesv2(shared_tenant)
    code, _m, status = refusal(client.put_suppressed_destination,
                               EmailAddress="a@customer.example", Reason="SPAM")  # fmt: skip
    assert (code, status) == ("BadRequestException", 400)
    code, _m, status = refusal(client.put_account_suppression_attributes,
                               SuppressedReasons=["BOUNCE", "SPAM"])  # fmt: skip
    assert (code, status) == ("BadRequestException", 400)
    assert client.get_account()["SuppressionAttributes"]["SuppressedReasons"] == [
        "BOUNCE", "COMPLAINT",
    ]  # fmt: skip


def test_another_accounts_list_is_invisible(shared_tenant_factory: TenantFactory) -> None:
    owner, other = shared_tenant_factory("owner"), shared_tenant_factory("stranger")
    sesv2(owner).put_suppressed_destination(EmailAddress="mine@customer.example",
                                            Reason="COMPLAINT")  # fmt: skip
    client = sesv2(other)
    assert refusal(
        client.get_suppressed_destination, EmailAddress="mine@customer.example"
    ) == not_listed("mine@customer.example")
    assert (
        refusal(client.delete_suppressed_destination, EmailAddress="mine@customer.example")[0]
        == "NotFoundException"
    )
    assert listed(client) == []
    client.put_account_suppression_attributes(SuppressedReasons=[])
    assert sesv2(owner).get_account()["SuppressionAttributes"]["SuppressedReasons"] == [
        "BOUNCE", "COMPLAINT",
    ]  # fmt: skip
    assert cli_list(owner) == {"mine@customer.example": "COMPLAINT"}
    assert cli_list(other) == {}
