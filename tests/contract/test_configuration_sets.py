"""boto3 `ses` and `sesv2`: configuration sets (issue 10, part 1), one state for v1 and v2,
per account and region: CRUD and its errors, hostile names, another account's sets staying
invisible, resource tags, an identity's default set, and sending with a set (existence,
SendingEnabled, the `ses:configuration-set` tag); on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from ses_support import DomainVerifier, Tenant, TenantFactory, error_of, simple_message

from postroom.testing.fixtures import ses_client


@pytest.fixture
def database_url(engine_url: str) -> str:
    return engine_url


def sesv2(tenant: Tenant, region: str = "us-east-1") -> Any:
    return ses_client(tenant.server, tenant.credentials, service="sesv2", region=region)


def refusal(call: Any, *args: Any, **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(*args, **params)
    return error_of(caught.value)


def test_v1_crud_and_its_errors(approved: Tenant) -> None:
    v1 = approved.client()
    v1.create_configuration_set(ConfigurationSet={"Name": "b-set"})
    v1.create_configuration_set(ConfigurationSet={"Name": "a-set"})

    assert refusal(v1.create_configuration_set, ConfigurationSet={"Name": "a-set"}) == (
        "ConfigurationSetAlreadyExists", "Configuration set <a-set> already exists.", 400)
    first = v1.list_configuration_sets(MaxItems=1)
    assert first["ConfigurationSets"] == [{"Name": "a-set"}]
    rest = v1.list_configuration_sets(MaxItems=1, NextToken=first["NextToken"])
    assert rest["ConfigurationSets"] == [{"Name": "b-set"}] and "NextToken" not in rest

    every = ["eventDestinations", "trackingOptions", "deliveryOptions", "reputationOptions"]
    described = v1.describe_configuration_set(
        ConfigurationSetName="a-set", ConfigurationSetAttributeNames=every)
    assert described["ConfigurationSet"] == {"Name": "a-set"}
    assert described["EventDestinations"] == []
    assert "TrackingOptions" not in described
    assert described["DeliveryOptions"] == {"TlsPolicy": "Optional"}
    assert described["ReputationOptions"] == {
        "SendingEnabled": True, "ReputationMetricsEnabled": False}  # fmt: skip
    assert "DeliveryOptions" not in v1.describe_configuration_set(ConfigurationSetName="a-set")

    v1.update_configuration_set_sending_enabled(ConfigurationSetName="a-set", Enabled=False)
    v1.update_configuration_set_reputation_metrics_enabled(
        ConfigurationSetName="a-set", Enabled=True)
    v1.put_configuration_set_delivery_options(
        ConfigurationSetName="a-set", DeliveryOptions={"TlsPolicy": "Require"})
    v1.create_configuration_set_tracking_options(
        ConfigurationSetName="a-set", TrackingOptions={"CustomRedirectDomain": "t.example.com"})
    assert refusal(v1.create_configuration_set_tracking_options, ConfigurationSetName="a-set",
                   TrackingOptions={})[0::2] == (
        "TrackingOptionsAlreadyExistsException", 400)  # fmt: skip
    assert refusal(v1.update_configuration_set_tracking_options, ConfigurationSetName="b-set",
                   TrackingOptions={})[0::2] == (
        "TrackingOptionsDoesNotExistException", 400)  # fmt: skip
    assert refusal(v1.create_configuration_set_tracking_options, ConfigurationSetName="b-set",
                   TrackingOptions={"CustomRedirectDomain": "not a domain"})[0::2] == (
        "InvalidTrackingOptions", 400)  # fmt: skip
    described = v1.describe_configuration_set(
        ConfigurationSetName="a-set", ConfigurationSetAttributeNames=every)
    assert described["TrackingOptions"] == {"CustomRedirectDomain": "t.example.com"}
    assert described["DeliveryOptions"] == {"TlsPolicy": "Require"}
    assert described["ReputationOptions"] == {
        "SendingEnabled": False, "ReputationMetricsEnabled": True}  # fmt: skip
    v1.delete_configuration_set_tracking_options(ConfigurationSetName="a-set")
    assert refusal(v1.delete_configuration_set_tracking_options,
                   ConfigurationSetName="a-set")[0] == "TrackingOptionsDoesNotExistException"

    v1.delete_configuration_set(ConfigurationSetName="a-set")
    missing = ("ConfigurationSetDoesNotExist", "Configuration set <a-set> does not exist.", 400)
    for call, params in (
        (v1.delete_configuration_set, {}),
        (v1.describe_configuration_set, {}),
        (v1.update_configuration_set_sending_enabled, {"Enabled": True}),
        (v1.update_configuration_set_reputation_metrics_enabled, {"Enabled": True}),
        (v1.put_configuration_set_delivery_options, {"DeliveryOptions": {}}),
        (v1.delete_configuration_set_tracking_options, {}),
    ):
        assert refusal(call, ConfigurationSetName="a-set", **params) == missing


@pytest.mark.parametrize("name", ["x" * 65, "with space", "tab\there", "new\nline", "é", "a.b"])
def test_hostile_names_are_refused(approved: Tenant, name: str) -> None:
    v1, v2 = approved.client(), sesv2(approved)
    code, message, status = refusal(v1.create_configuration_set,
                                    ConfigurationSet={"Name": name})  # fmt: skip
    assert (code, status) == ("InvalidConfigurationSet", 400)
    assert "\n" not in message and "\t" not in message
    assert refusal(v2.create_configuration_set, ConfigurationSetName=name)[0::2] == (
        "BadRequestException", 400)
    assert v2.list_configuration_sets()["ConfigurationSets"] == []


def test_v2_crud_one_state_with_v1_and_tags(approved: Tenant) -> None:
    v1, v2 = approved.client(), sesv2(approved)
    v2.create_configuration_set(
        ConfigurationSetName="full",
        TrackingOptions={"CustomRedirectDomain": "track.example.com", "HttpsPolicy": "REQUIRE"},
        DeliveryOptions={"TlsPolicy": "REQUIRE", "SendingPoolName": "pool-1",
                         "MaxDeliverySeconds": 600},
        ReputationOptions={"ReputationMetricsEnabled": True},
        SendingOptions={"SendingEnabled": False},
        SuppressionOptions={"SuppressedReasons": ["COMPLAINT"]},
        Tags=[{"Key": "team", "Value": "mail"}],
    )  # fmt: skip
    got = v2.get_configuration_set(ConfigurationSetName="full")
    assert got["ConfigurationSetName"] == "full"
    assert got["TrackingOptions"] == {
        "CustomRedirectDomain": "track.example.com", "HttpsPolicy": "REQUIRE"}  # fmt: skip
    assert got["DeliveryOptions"] == {
        "TlsPolicy": "REQUIRE", "SendingPoolName": "pool-1", "MaxDeliverySeconds": 600}
    assert got["ReputationOptions"] == {"ReputationMetricsEnabled": True}
    assert got["SendingOptions"] == {"SendingEnabled": False}
    assert got["SuppressionOptions"] == {"SuppressedReasons": ["COMPLAINT"]}
    assert got["Tags"] == [{"Key": "team", "Value": "mail"}]
    assert v1.describe_configuration_set(
        ConfigurationSetName="full", ConfigurationSetAttributeNames=["deliveryOptions"]
    )["DeliveryOptions"] == {"TlsPolicy": "Require"}

    v1.create_configuration_set(ConfigurationSet={"Name": "plain"})
    assert v2.list_configuration_sets()["ConfigurationSets"] == ["full", "plain"]
    page = v2.list_configuration_sets(PageSize=1)
    assert page["ConfigurationSets"] == ["full"]
    assert v2.list_configuration_sets(NextToken=page["NextToken"])["ConfigurationSets"] == [
        "plain"]
    assert refusal(v2.list_configuration_sets, NextToken="forged!")[0] == "BadRequestException"
    assert refusal(v2.create_configuration_set, ConfigurationSetName="plain")[0::2] == (
        "AlreadyExistsException", 400)

    v2.put_configuration_set_sending_options(ConfigurationSetName="plain", SendingEnabled=False)
    v2.put_configuration_set_delivery_options(ConfigurationSetName="plain", TlsPolicy="REQUIRE",
                                              SendingPoolName="p2")  # fmt: skip
    v2.put_configuration_set_reputation_options(
        ConfigurationSetName="plain", ReputationMetricsEnabled=True)
    v2.put_configuration_set_suppression_options(
        ConfigurationSetName="plain", SuppressedReasons=[])
    v2.put_configuration_set_tracking_options(
        ConfigurationSetName="plain", CustomRedirectDomain="go.example.com")
    got = v2.get_configuration_set(ConfigurationSetName="plain")
    assert got["SendingOptions"] == {"SendingEnabled": False}
    assert got["DeliveryOptions"] == {"TlsPolicy": "REQUIRE", "SendingPoolName": "p2"}
    assert got["ReputationOptions"] == {"ReputationMetricsEnabled": True}
    assert got["SuppressionOptions"] == {"SuppressedReasons": []}
    assert got["TrackingOptions"] == {"CustomRedirectDomain": "go.example.com"}
    assert v1.describe_configuration_set(
        ConfigurationSetName="plain", ConfigurationSetAttributeNames=["reputationOptions"]
    )["ReputationOptions"]["SendingEnabled"] is False

    arn = f"arn:aws:ses:us-east-1:{approved.account_id}:configuration-set/plain"
    v2.tag_resource(ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}])
    assert v2.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    v2.delete_configuration_set(ConfigurationSetName="plain")
    assert refusal(v2.list_tags_for_resource, ResourceArn=arn)[0::2] == ("NotFoundException", 404)
    v2.create_configuration_set(ConfigurationSetName="plain")
    assert v2.get_configuration_set(ConfigurationSetName="plain")["Tags"] == []

    for call, params in (
        (v2.get_configuration_set, {}),
        (v2.delete_configuration_set, {}),
        (v2.put_configuration_set_sending_options, {"SendingEnabled": True}),
        (v2.put_configuration_set_delivery_options, {}),
        (v2.put_configuration_set_reputation_options, {}),
        (v2.put_configuration_set_suppression_options, {}),
        (v2.put_configuration_set_tracking_options, {}),
    ):
        assert refusal(call, ConfigurationSetName="gone", **params) == (
            "NotFoundException", "Configuration set <gone> does not exist.", 404)
    assert refusal(v2.put_configuration_set_suppression_options, ConfigurationSetName="plain",
                   SuppressedReasons=["SPAM"])[0] == "BadRequestException"  # fmt: skip


def test_another_accounts_sets_and_regions_are_invisible(
    approved: Tenant, make_tenant: TenantFactory
) -> None:
    other = make_tenant("other", approve=True)
    sesv2(approved).create_configuration_set(ConfigurationSetName="mine")
    theirs, elsewhere = sesv2(other), sesv2(approved, region="eu-west-1")
    for client in (theirs, elsewhere):
        assert refusal(client.get_configuration_set, ConfigurationSetName="mine")[0::2] == (
            "NotFoundException", 404)
        assert client.list_configuration_sets()["ConfigurationSets"] == []
        assert refusal(client.delete_configuration_set, ConfigurationSetName="mine")[2] == 404
    arn = f"arn:aws:ses:us-east-1:{approved.account_id}:configuration-set/mine"
    assert refusal(theirs.tag_resource, ResourceArn=arn,
                   Tags=[{"Key": "k", "Value": "v"}])[0::2] == ("NotFoundException", 404)
    theirs.create_configuration_set(ConfigurationSetName="mine")  # names are per account
    assert refusal(other.client().send_email, Source="a@example.com",
                   Destination={"ToAddresses": ["b@example.com"]}, Message=simple_message(),
                   ConfigurationSetName="nope")[0] == "ConfigurationSetDoesNotExist"  # fmt: skip


@pytest.fixture
def sender(approved: Tenant, verify_domain_of: DomainVerifier) -> Tenant:
    verify_domain_of(approved.client(), "example.com")
    return approved


def _send_v1(client: Any, **extra: Any) -> str:
    return str(client.send_email(Source="app@example.com",
                                 Destination={"ToAddresses": ["to@elsewhere.example"]},
                                 Message=simple_message(), **extra)["MessageId"])  # fmt: skip


def _tags(tenant: Tenant, message_id: str) -> dict[str, list[str]]:
    return dict(tenant.events(message_id)[0]["mail"]["tags"])


def test_sending_with_a_set_on_every_call(sender: Tenant) -> None:
    v1, v2 = sender.client(), sesv2(sender)
    v1.create_configuration_set(ConfigurationSet={"Name": "cs"})
    v1.create_template(Template={"TemplateName": "t", "SubjectPart": "s", "TextPart": "x"})
    raw = (b"From: app@example.com\r\nTo: to@elsewhere.example\r\n"
           b"X-SES-CONFIGURATION-SET: cs\r\nSubject: s\r\n\r\nbody\r\n")  # fmt: skip
    to = {"ToAddresses": ["to@elsewhere.example"]}
    simple = {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "x"}}}}
    ids = [
        _send_v1(v1, ConfigurationSetName="cs"),
        v1.send_raw_email(RawMessage={"Data": raw})["MessageId"],
        v1.send_raw_email(RawMessage={"Data": raw.replace(b"X-SES-CONFIGURATION-SET: cs\r\n",
                                                          b"")},
                          ConfigurationSetName="cs")["MessageId"],
        v1.send_templated_email(Source="app@example.com", Destination=to, Template="t",
                                TemplateData="{}", ConfigurationSetName="cs")["MessageId"],
        v1.send_bulk_templated_email(Source="app@example.com", Template="t",
                                     DefaultTemplateData="{}", ConfigurationSetName="cs",
                                     Destinations=[{"Destination": to}])["Status"][0]["MessageId"],
        v2.send_email(FromEmailAddress="app@example.com", Destination=to,
                      Content=simple,
                      ConfigurationSetName="cs")["MessageId"],
        v2.send_bulk_email(FromEmailAddress="app@example.com",
                           DefaultContent={"Template": {"TemplateName": "t", "TemplateData": "{}"}},
                           BulkEmailEntries=[{"Destination": to}], ConfigurationSetName="cs",
                           )["BulkEmailEntryResults"][0]["MessageId"],
    ]  # fmt: skip
    for message_id in ids:
        tags = _tags(sender, message_id)
        assert tags["ses:configuration-set"] == ["cs"]
        assert tags["ses:from-domain"] == ["example.com"] and tags["ses:source-ip"]
        assert tags["ses:caller-identity"] == [sender.credentials["access_key_id"]]
    assert "ses:configuration-set" not in _tags(sender, _send_v1(v1))


def test_a_missing_or_paused_set_refuses_the_send(sender: Tenant) -> None:
    v1, v2 = sender.client(), sesv2(sender)
    assert refusal(_send_v1, v1, ConfigurationSetName="nope") == (
        "ConfigurationSetDoesNotExist", "Configuration set <nope> does not exist.", 400)
    assert refusal(_send_v1, v1, ConfigurationSetName="bad\tname")[0] == (
        "ConfigurationSetDoesNotExist")
    v2.create_configuration_set(ConfigurationSetName="paused",
                                SendingOptions={"SendingEnabled": False})  # fmt: skip
    assert refusal(_send_v1, v1, ConfigurationSetName="paused")[0::2] == (
        "ConfigurationSetSendingPausedException", 400)
    simple = {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "x"}}}}
    assert refusal(v2.send_email, FromEmailAddress="app@example.com", Content=simple,
                   Destination={"ToAddresses": ["to@elsewhere.example"]},
                   ConfigurationSetName="paused")[0::2] == ("SendingPausedException", 400)
    v1.create_template(Template={"TemplateName": "t", "SubjectPart": "s", "TextPart": "x"})
    bulk = v1.send_bulk_templated_email(
        Source="app@example.com", Template="t", DefaultTemplateData="{}",
        ConfigurationSetName="paused",
        Destinations=[{"Destination": {"ToAddresses": ["to@elsewhere.example"]}}])
    assert bulk["Status"][0]["Status"] == "ConfigurationSetSendingPaused"
    v2bulk = v2.send_bulk_email(
        FromEmailAddress="app@example.com", ConfigurationSetName="nope",
        DefaultContent={"Template": {"TemplateName": "t", "TemplateData": "{}"}},
        BulkEmailEntries=[{"Destination": {"ToAddresses": ["to@elsewhere.example"]}}])
    assert v2bulk["BulkEmailEntryResults"][0]["Status"] == "CONFIGURATION_SET_NOT_FOUND"
    v1.update_configuration_set_sending_enabled(ConfigurationSetName="paused", Enabled=True)
    assert _send_v1(v1, ConfigurationSetName="paused")


def test_an_identity_default_set(sender: Tenant) -> None:
    v1, v2 = sender.client(), sesv2(sender)
    v2.create_configuration_set(ConfigurationSetName="domain-default")
    v2.create_configuration_set(ConfigurationSetName="explicit")
    assert refusal(v2.put_email_identity_configuration_set_attributes,
                   EmailIdentity="unknown.example",
                   ConfigurationSetName="explicit")[0::2] == ("NotFoundException", 404)
    assert refusal(v2.put_email_identity_configuration_set_attributes,
                   EmailIdentity="example.com",
                   ConfigurationSetName="missing")[0::2] == ("NotFoundException", 404)
    v2.put_email_identity_configuration_set_attributes(
        EmailIdentity="example.com", ConfigurationSetName="domain-default")
    assert v2.get_email_identity(EmailIdentity="example.com")[
        "ConfigurationSetName"] == "domain-default"

    assert _tags(sender, _send_v1(v1))["ses:configuration-set"] == ["domain-default"]
    named = _send_v1(v1, ConfigurationSetName="explicit")
    assert _tags(sender, named)["ses:configuration-set"] == ["explicit"]

    v2.delete_configuration_set(ConfigurationSetName="domain-default")
    assert refusal(_send_v1, v1)[0] == "ConfigurationSetDoesNotExist"  # as on SES
    v2.put_email_identity_configuration_set_attributes(EmailIdentity="example.com")
    assert "ConfigurationSetName" not in v2.get_email_identity(EmailIdentity="example.com")
    assert "ses:configuration-set" not in _tags(sender, _send_v1(v1))
