"""boto3 `ses`: email templates (issue 9, section 3) and templated sending, on SQLite and
PostgreSQL: CRUD and its errors, TestRenderTemplate with SES's documented example,
SendTemplatedEmail and SendBulkTemplatedEmail arriving rendered in the capture mailbox, a
rendering problem at send time (accepted, a Rendering Failure in the history, nothing
delivered), and hostile input (names with control characters, oversized templates,
another account's templates)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ses_support import DomainVerifier, Tenant, TenantFactory, error_of, parse_mime, text_of


@pytest.fixture
def database_url(engine_url: str) -> str:
    return engine_url


# SES Developer Guide, "Using templates to send personalized email with the SES API".
MY_TEMPLATE = {
    "TemplateName": "MyTemplate",
    "SubjectPart": "Greetings, {{name}}!",
    "HtmlPart": "<h1>Hello {{name}},</h1><p>Your favorite animal is {{favoriteanimal}}.</p>",
    "TextPart": "Dear {{name}},\r\nYour favorite animal is {{favoriteanimal}}.",
}
MY_DATA = json.dumps({"name": "Alejandro", "favoriteanimal": "alligator"})


@pytest.fixture
def sender(approved: Tenant, verify_domain_of: DomainVerifier) -> Any:
    client = approved.client()
    verify_domain_of(client, "example.com")
    return client


def test_crud_and_its_errors(approved: Tenant) -> None:
    client = approved.client()
    client.create_template(Template=MY_TEMPLATE)
    for name in ("b-second", "c_third"):
        client.create_template(Template={"TemplateName": name, "TextPart": "x"})

    assert client.get_template(TemplateName="MyTemplate")["Template"] == MY_TEMPLATE
    with pytest.raises(ClientError) as dup:
        client.create_template(Template=MY_TEMPLATE)
    assert error_of(dup.value) == ("AlreadyExists", "Template MyTemplate already exists.", 400)

    first = client.list_templates(MaxItems=2)
    assert [t["Name"] for t in first["TemplatesMetadata"]] == ["MyTemplate", "b-second"]
    assert first["TemplatesMetadata"][0]["CreatedTimestamp"].tzinfo is not None
    rest = client.list_templates(MaxItems=2, NextToken=first["NextToken"])
    assert [t["Name"] for t in rest["TemplatesMetadata"]] == ["c_third"]
    assert "NextToken" not in rest

    client.update_template(Template={"TemplateName": "b-second", "HtmlPart": "<b>{{x}}</b>"})
    assert client.get_template(TemplateName="b-second")["Template"] == {
        "TemplateName": "b-second", "HtmlPart": "<b>{{x}}</b>"}  # fmt: skip

    client.delete_template(TemplateName="b-second")
    client.delete_template(TemplateName="b-second")  # SES v1: no error for a missing one
    for call in (
        lambda: client.get_template(TemplateName="b-second"),
        lambda: client.update_template(Template={"TemplateName": "b-second", "TextPart": "x"}),
        lambda: client.test_render_template(TemplateName="b-second", TemplateData="{}"),
    ):
        with pytest.raises(ClientError) as missing:
            call()
        assert error_of(missing.value) == (
            "TemplateDoesNotExist", "Template b-second does not exist.", 400)  # fmt: skip


def test_invalid_templates_are_refused(approved: Tenant) -> None:
    client = approved.client()
    cases = [
        ({"TemplateName": "no-parts", "SubjectPart": "s"}, "InvalidParameterValue"),
        ({"TemplateName": "bad-syntax", "TextPart": "{{#if x}}open"}, "InvalidTemplate"),
        ({"TemplateName": "bad\x01name", "TextPart": "x"}, "InvalidParameterValue"),
        ({"TemplateName": "bad\nname", "TextPart": "x"}, "InvalidParameterValue"),
        ({"TemplateName": "n" * 65, "TextPart": "x"}, "InvalidParameterValue"),
        ({"TemplateName": "huge", "TextPart": "x" * (600 * 1024)}, "InvalidParameterValue"),
    ]
    for template, code in cases:
        with pytest.raises(ClientError) as refused:
            client.create_template(Template=template)
        assert error_of(refused.value)[0] == code, template["TemplateName"]
    assert client.list_templates()["TemplatesMetadata"] == []


def test_render_the_documented_example(approved: Tenant) -> None:
    client = approved.client()
    client.create_template(Template=MY_TEMPLATE)

    raw = client.test_render_template(TemplateName="MyTemplate", TemplateData=MY_DATA)
    message = parse_mime(raw["RenderedTemplate"])
    assert message["Subject"] == "Greetings, Alejandro!"
    assert "From" not in message and "To" not in message
    assert message.get_content_type() == "multipart/alternative"
    assert text_of(message.get_body(("plain",))) == (
        "Dear Alejandro,\nYour favorite animal is alligator.")  # fmt: skip
    assert text_of(message.get_body(("html",))) == (
        "<h1>Hello Alejandro,</h1><p>Your favorite animal is alligator.</p>")  # fmt: skip

    with pytest.raises(ClientError) as missing:
        client.test_render_template(TemplateName="MyTemplate", TemplateData='{"name": "A"}')
    assert error_of(missing.value)[:2] == (
        "MissingRenderingAttribute",
        "Attribute 'favoriteanimal' is not present in the rendering data.")  # fmt: skip
    for bad in ("not json", "[1, 2]"):
        with pytest.raises(ClientError) as invalid:
            client.test_render_template(TemplateName="MyTemplate", TemplateData=bad)
        assert error_of(invalid.value)[0] == "InvalidRenderingParameter"


def test_templated_email_arrives_rendered_in_korean(approved: Tenant, sender: Any) -> None:
    sender.create_template(Template={
        "TemplateName": "welcome", "SubjectPart": "{{name}}님, 환영합니다",
        "TextPart": "안녕하세요 {{name}}님! 주문 {{order.id}}이(가) 접수되었습니다.",
        "HtmlPart": "<p>안녕하세요 <b>{{name}}</b>님!</p>"})  # fmt: skip

    sent = sender.send_templated_email(
        Source="Shop <shop@example.com>", Destination={"ToAddresses": ["ann@example.com"]},
        Template="welcome", TemplateData=json.dumps({"name": "김민수", "order": {"id": 42}}),
    )  # fmt: skip

    message = parse_mime(approved.captured(sent["MessageId"])["raw"])
    assert message["Subject"] == "김민수님, 환영합니다"
    assert message["To"] == "ann@example.com"
    assert text_of(message.get_body(("plain",))) == (
        "안녕하세요 김민수님! 주문 42이(가) 접수되었습니다.")  # fmt: skip
    assert text_of(message.get_body(("html",))) == "<p>안녕하세요 <b>김민수</b>님!</p>"


def test_bulk_merges_defaults_under_each_destination(approved: Tenant, sender: Any) -> None:
    sender.create_template(Template={"TemplateName": "promo",
                                     "SubjectPart": "{{greeting}} {{name}}",
                                     "TextPart": "{{offer}}"})  # fmt: skip
    result = sender.send_bulk_templated_email(
        Source="shop@example.com", Template="promo",
        DefaultTemplateData=json.dumps({"greeting": "Hi", "name": "friend", "offer": "10%"}),
        Destinations=[
            {"Destination": {"ToAddresses": ["ann@example.com"]},
             "ReplacementTemplateData": json.dumps({"name": "Ann"})},
            {"Destination": {"ToAddresses": ["bob@example.com"]},
             "ReplacementTemplateData": "{}"},
            {"Destination": {"ToAddresses": ["nobody@unverified.example"]}},
        ],
    )  # fmt: skip
    statuses = result["Status"]
    assert [s["Status"] for s in statuses] == ["Success", "Success", "Success"]
    subjects = [parse_mime(approved.captured(s["MessageId"])["raw"])["Subject"]
                for s in statuses]  # fmt: skip
    assert subjects == ["Hi Ann", "Hi friend", "Hi friend"]


def test_bulk_reports_refused_destinations(sandboxed: Tenant,
                                           verify_domain_of: DomainVerifier) -> None:
    client = sandboxed.client()
    verify_domain_of(client, "example.com")
    client.create_template(Template={"TemplateName": "t", "TextPart": "hi"})
    result = client.send_bulk_templated_email(
        Source="shop@example.com", Template="t", DefaultTemplateData="{}",
        Destinations=[{"Destination": {"ToAddresses": ["ann@example.com"]}},
                      {"Destination": {"ToAddresses": ["x@unverified.example"]}}],
    )  # fmt: skip
    first, second = result["Status"]
    assert first["Status"] == "Success" and first["MessageId"]
    assert second["Status"] == "MessageRejected" and "MessageId" not in second
    assert "not verified" in second["Error"]


def test_missing_attribute_at_send_is_accepted_and_recorded(approved: Tenant,
                                                            sender: Any) -> None:
    sender.create_template(Template=MY_TEMPLATE)
    sent = sender.send_templated_email(
        Source="shop@example.com", Destination={"ToAddresses": ["ann@example.com"]},
        Template="MyTemplate", TemplateData='{"name": "Ann"}',
    )  # fmt: skip

    events = approved.events(sent["MessageId"])
    assert [e["eventType"] for e in events] == ["Rendering Failure"]
    assert events[0]["failure"] == {
        "errorMessage": "Attribute 'favoriteanimal' is not present in the rendering data.",
        "templateName": "MyTemplate"}  # fmt: skip
    ok = sender.send_templated_email(
        Source="shop@example.com", Destination={"ToAddresses": ["bob@example.com"]},
        Template="MyTemplate", TemplateData=MY_DATA,
    )  # fmt: skip
    approved.captured(ok["MessageId"])  # delivered mail arrives; the failed one never does
    assert sent["MessageId"] not in {m["message_id"] for m in approved.mailbox()}
    quota = sender.get_send_quota()
    assert quota["SentLast24Hours"] == 2.0  # SES charges the quota when it accepts the call
    stats = sender.get_send_statistics()["SendDataPoints"]
    assert sum(p["DeliveryAttempts"] for p in stats) == 1


def test_send_time_errors_fail_the_call(approved: Tenant, sender: Any) -> None:
    sender.create_template(Template=MY_TEMPLATE)
    base: dict[str, Any] = {"Source": "shop@example.com",
                            "Destination": {"ToAddresses": ["ann@example.com"]}}
    with pytest.raises(ClientError) as missing:
        sender.send_templated_email(**base, Template="Nope", TemplateData="{}")
    assert error_of(missing.value) == (
        "TemplateDoesNotExist", "Template Nope does not exist.", 400)  # fmt: skip
    for bad in ("not json", '"a string"', "[]"):
        with pytest.raises(ClientError) as invalid:
            sender.send_templated_email(**base, Template="MyTemplate", TemplateData=bad)
        assert error_of(invalid.value)[0] == "InvalidParameterValue"
    assert approved.mailbox() == []


def test_another_accounts_templates_are_invisible(
    approved: Tenant, sender: Any, make_tenant: TenantFactory
) -> None:
    other = make_tenant("other", approve=True).client()
    other.create_template(Template={"TemplateName": "secret", "TextPart": "s3cr3t {{x}}"})
    other.create_template(Template={"TemplateName": "shared-name", "TextPart": "theirs"})
    sender.create_template(Template={"TemplateName": "shared-name", "TextPart": "mine"})

    assert [t["Name"] for t in sender.list_templates()["TemplatesMetadata"]] == ["shared-name"]
    assert sender.get_template(TemplateName="shared-name")["Template"]["TextPart"] == "mine"
    arn = f"arn:aws:ses:us-east-1:{approved.account_id}:template/secret"
    other_arn = arn.replace(approved.account_id, "999999999999")
    for call in (
        lambda: sender.get_template(TemplateName="secret"),
        lambda: sender.test_render_template(TemplateName="secret", TemplateData="{}"),
        lambda: sender.send_templated_email(
            Source="shop@example.com", Destination={"ToAddresses": ["a@example.com"]},
            Template="secret", TemplateData="{}"),
        lambda: sender.send_templated_email(
            Source="shop@example.com", Destination={"ToAddresses": ["a@example.com"]},
            Template="secret", TemplateArn=other_arn, TemplateData="{}"),
    ):
        with pytest.raises(ClientError) as hidden:
            call()
        assert error_of(hidden.value)[0] == "TemplateDoesNotExist"
    sender.delete_template(TemplateName="secret")  # deletes nothing of theirs
    assert other.get_template(TemplateName="secret")["Template"]["TextPart"] == "s3cr3t {{x}}"
    assert approved.client("eu-west-1").list_templates()["TemplatesMetadata"] == []
