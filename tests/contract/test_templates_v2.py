"""boto3 `sesv2`: email templates (issue 9, section 3) over SES v2, one state with v1's:
CRUD and v2's errors, TestRenderEmailTemplate, SendEmail with a stored, an ARN-named and
an inline template, SendBulkEmail's per-entry results, a rendering problem at send time,
and another account's templates staying invisible; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ses_support import DomainVerifier, Tenant, TenantFactory, error_of, parse_mime, text_of

from postroom.testing.fixtures import ses_client


@pytest.fixture
def database_url(engine_url: str) -> str:
    return engine_url


def sesv2(tenant: Tenant) -> Any:
    return ses_client(tenant.server, tenant.credentials, service="sesv2")


CONTENT = {"Subject": "Hi {{name}}", "Text": "Dear {{name}}, {{#each items}}[{{this}}]{{/each}}",
           "Html": "<p>{{name}}</p>"}  # fmt: skip


@pytest.fixture
def v2(approved: Tenant, verify_domain_of: DomainVerifier) -> Any:
    verify_domain_of(approved.client(), "example.com")
    return sesv2(approved)


def test_crud_is_one_state_with_v1(approved: Tenant, v2: Any) -> None:
    v1 = approved.client()
    v2.create_email_template(TemplateName="made-in-v2", TemplateContent=CONTENT)
    v1.create_template(Template={"TemplateName": "made-in-v1", "TextPart": "v1 {{x}}"})

    assert v1.get_template(TemplateName="made-in-v2")["Template"] == {
        "TemplateName": "made-in-v2", "SubjectPart": CONTENT["Subject"],
        "TextPart": CONTENT["Text"], "HtmlPart": CONTENT["Html"]}  # fmt: skip
    got = v2.get_email_template(TemplateName="made-in-v1")
    assert (got["TemplateName"], got["TemplateContent"]) == ("made-in-v1", {"Text": "v1 {{x}}"})
    listed = v2.list_email_templates(PageSize=1)
    assert [t["TemplateName"] for t in listed["TemplatesMetadata"]] == ["made-in-v1"]
    rest = v2.list_email_templates(PageSize=1, NextToken=listed["NextToken"])
    assert [t["TemplateName"] for t in rest["TemplatesMetadata"]] == ["made-in-v2"]

    with pytest.raises(ClientError) as dup:
        v2.create_email_template(TemplateName="made-in-v1", TemplateContent={"Text": "x"})
    assert error_of(dup.value)[0::2] == ("AlreadyExistsException", 400)
    v2.update_email_template(TemplateName="made-in-v1", TemplateContent={"Html": "<i>new</i>"})
    assert v1.get_template(TemplateName="made-in-v1")["Template"]["HtmlPart"] == "<i>new</i>"
    v2.delete_email_template(TemplateName="made-in-v1")
    for call in (
        lambda: v2.get_email_template(TemplateName="made-in-v1"),
        lambda: v2.delete_email_template(TemplateName="made-in-v1"),
        lambda: v2.update_email_template(TemplateName="made-in-v1",
                                         TemplateContent={"Text": "x"}),
        lambda: v2.test_render_email_template(TemplateName="made-in-v1", TemplateData="{}"),
    ):  # fmt: skip
        with pytest.raises(ClientError) as missing:
            call()
        assert error_of(missing.value) == (
            "NotFoundException", "Template made-in-v1 does not exist.", 404)  # fmt: skip
    with pytest.raises(ClientError) as empty:
        v2.create_email_template(TemplateName="empty", TemplateContent={"Subject": "s"})
    assert error_of(empty.value)[0] == "BadRequestException"
    with pytest.raises(ClientError) as huge:
        v2.create_email_template(TemplateName="huge", TemplateContent={"Text": "x" * 600_000})
    assert error_of(huge.value)[0] == "BadRequestException"


def test_render_and_its_errors(v2: Any) -> None:
    v2.create_email_template(TemplateName="t", TemplateContent=CONTENT)
    rendered = v2.test_render_email_template(
        TemplateName="t", TemplateData=json.dumps({"name": "Ann", "items": ["a", "b"]}))
    message = parse_mime(rendered["RenderedTemplate"])
    assert message["Subject"] == "Hi Ann"
    assert text_of(message.get_body(("plain",))) == "Dear Ann, [a][b]"
    for data in ('{"items": []}', "not json"):
        with pytest.raises(ClientError) as bad:
            v2.test_render_email_template(TemplateName="t", TemplateData=data)
        assert error_of(bad.value)[0::2] == ("BadRequestException", 400)


def test_send_email_with_stored_arn_and_inline_templates(approved: Tenant, v2: Any) -> None:
    v2.create_email_template(TemplateName="t", TemplateContent=CONTENT)
    data = json.dumps({"name": "지수", "items": [1, 2]})
    arn = f"arn:aws:ses:us-east-1:{approved.account_id}:template/t"
    inline = {"Subject": "Inline {{name}}", "Text": "inline body {{name}}"}
    subjects = []
    for template in ({"TemplateName": "t"}, {"TemplateArn": arn}, {"TemplateContent": inline}):
        sent = v2.send_email(
            FromEmailAddress="shop@example.com",
            Destination={"ToAddresses": ["ann@example.com"]},
            Content={"Template": {**template, "TemplateData": data}},
        )
        message = parse_mime(approved.captured(sent["MessageId"])["raw"])
        subjects.append(message["Subject"])
    assert subjects == ["Hi 지수", "Hi 지수", "Inline 지수"]


def test_send_time_errors_and_rendering_failure(approved: Tenant, v2: Any) -> None:
    v2.create_email_template(TemplateName="t", TemplateContent=CONTENT)
    base: dict[str, Any] = {"FromEmailAddress": "shop@example.com",
                            "Destination": {"ToAddresses": ["ann@example.com"]}}
    with pytest.raises(ClientError) as missing:
        v2.send_email(**base, Content={"Template": {"TemplateName": "nope",
                                                    "TemplateData": "{}"}})  # fmt: skip
    assert error_of(missing.value)[0::2] == ("NotFoundException", 404)
    with pytest.raises(ClientError) as bad:
        v2.send_email(**base, Content={"Template": {"TemplateName": "t",
                                                    "TemplateData": "[1]"}})  # fmt: skip
    assert error_of(bad.value)[0::2] == ("BadRequestException", 400)

    sent = v2.send_email(**base, Content={"Template": {"TemplateName": "t",
                                                       "TemplateData": '{"items": []}'}})
    events = approved.events(sent["MessageId"])
    assert [e["eventType"] for e in events] == ["Rendering Failure"]
    assert events[0]["failure"] == {
        "errorMessage": "Attribute 'name' is not present in the rendering data.",
        "templateName": "t"}  # fmt: skip
    assert approved.mailbox() == []


def test_send_bulk_email(approved: Tenant, v2: Any) -> None:
    v2.create_email_template(TemplateName="t", TemplateContent=CONTENT)

    def entry(address: str, data: dict[str, Any] | None) -> dict[str, Any]:
        found: dict[str, Any] = {"Destination": {"ToAddresses": [address]}}
        if data is not None:
            found["ReplacementEmailContent"] = {
                "ReplacementTemplate": {"ReplacementTemplateData": json.dumps(data)}}
        return found

    result = v2.send_bulk_email(
        FromEmailAddress="shop@example.com",
        DefaultContent={"Template": {"TemplateName": "t",
                                     "TemplateData": '{"name": "you", "items": []}'}},
        BulkEmailEntries=[entry("ann@example.com", {"name": "Ann"}),
                          entry("bob@example.com", None),
                          entry("not an address", {})],
        DefaultEmailTags=[{"Name": "campaign", "Value": "spring"}],
    )  # fmt: skip
    first, second, third = result["BulkEmailEntryResults"]
    assert (first["Status"], second["Status"], third["Status"]) == (
        "SUCCESS", "SUCCESS", "INVALID_PARAMETER")  # fmt: skip
    subjects = [parse_mime(approved.captured(r["MessageId"])["raw"])["Subject"]
                for r in (first, second)]  # fmt: skip
    assert subjects == ["Hi Ann", "Hi you"]

    inline = v2.send_bulk_email(
        FromEmailAddress="shop@example.com",
        DefaultContent={"Template": {"TemplateContent": {"Subject": "S {{n}}", "Text": "b"},
                                     "TemplateData": '{"n": 1}'}},
        BulkEmailEntries=[entry("ann@example.com", {"n": 2})],
    )  # fmt: skip
    message_id = inline["BulkEmailEntryResults"][0]["MessageId"]
    assert parse_mime(approved.captured(message_id)["raw"])["Subject"] == "S 2"


def test_another_accounts_templates_are_invisible(
    approved: Tenant, v2: Any, make_tenant: TenantFactory
) -> None:
    other = sesv2(make_tenant("other", approve=True))
    other.create_email_template(TemplateName="secret", TemplateContent={"Text": "s3cr3t"})
    assert v2.list_email_templates()["TemplatesMetadata"] == []
    with pytest.raises(ClientError) as hidden:
        v2.get_email_template(TemplateName="secret")
    assert error_of(hidden.value)[0] == "NotFoundException"
    with pytest.raises(ClientError) as not_deleted:
        v2.delete_email_template(TemplateName="secret")
    assert error_of(not_deleted.value)[0] == "NotFoundException"
    assert other.get_email_template(TemplateName="secret")["TemplateContent"] == {
        "Text": "s3cr3t"}  # fmt: skip
    with pytest.raises(ClientError) as control:
        v2.create_email_template(TemplateName="bad\x7fname", TemplateContent={"Text": "x"})
    assert error_of(control.value)[0] == "BadRequestException"


def test_template_tags(approved: Tenant, v2: Any) -> None:
    v2.create_email_template(TemplateName="tagged", TemplateContent={"Text": "x"},
                             Tags=[{"Key": "team", "Value": "growth"}])  # fmt: skip
    assert v2.get_email_template(TemplateName="tagged")["Tags"] == [
        {"Key": "team", "Value": "growth"}]  # fmt: skip
    arn = f"arn:aws:ses:us-east-1:{approved.account_id}:template/tagged"
    v2.tag_resource(ResourceArn=arn, Tags=[{"Key": "tier", "Value": "1"}])
    listed = v2.list_tags_for_resource(ResourceArn=arn)["Tags"]
    assert sorted(t["Key"] for t in listed) == ["team", "tier"]
    v2.delete_email_template(TemplateName="tagged")
    v2.create_email_template(TemplateName="tagged", TemplateContent={"Text": "x"})
    assert v2.get_email_template(TemplateName="tagged")["Tags"] == []
