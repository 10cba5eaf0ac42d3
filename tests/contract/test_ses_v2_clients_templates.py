"""Contract: SES v2 email templates through two clients we did not write, the AWS CLI
(`aws sesv2`) and @aws-sdk/client-sesv2 (sesv2_clients.py), against a real
`postroom serve`: Create/Get/Update/Delete/ListEmailTemplate(s) and
TestRenderEmailTemplate, each with its AlreadyExists/NotFound/BadRequest answers. Sending
with templates (SendEmail's Content.Template, SendBulkEmail) is in
test_ses_v2_clients_sending.py; the boto3 `sesv2` versions are in test_templates_v2.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from ses_support import TenantFactory, parse_mime, text_of
from sesv2_clients import Sesv2ClientFor, call, instant

CONTENT = {"Subject": "Hi {{name}}", "Text": "Dear {{name}}, {{#each items}}[{{this}}]{{/each}}",
           "Html": "<p>{{name}}</p>"}  # fmt: skip
UPDATED = {"Subject": "Hello {{name}}", "Text": "Hello {{name}}, 반갑습니다."}


def missing(name: str) -> str:
    return f"Template {name} does not exist."


def test_templates(
    sesv2_client_for: Sesv2ClientFor, shared_tenant_factory: TenantFactory
) -> None:
    tenant = shared_tenant_factory(f"templates-{sesv2_client_for.kind}")
    client = sesv2_client_for(tenant)
    started = datetime.now(UTC) - timedelta(seconds=1)
    data = json.dumps({"name": "지수", "items": ["a", "b"]}, ensure_ascii=False)

    (
        created, duplicate, empty, found, absent, rendered, unrendered, render_absent,
        updated, update_absent, after_update, listed, bad_token, deleted, delete_absent,
        gone,
    ) = client.run(
        call("CreateEmailTemplate", TemplateName="welcome", TemplateContent=CONTENT,
             Tags=[{"Key": "team", "Value": "growth"}]),
        call("CreateEmailTemplate", TemplateName="welcome", TemplateContent={"Text": "x"}),
        call("CreateEmailTemplate", TemplateName="empty", TemplateContent={"Subject": "s"}),
        call("GetEmailTemplate", TemplateName="welcome"),
        call("GetEmailTemplate", TemplateName="nope"),
        call("TestRenderEmailTemplate", TemplateName="welcome", TemplateData=data),
        call("TestRenderEmailTemplate", TemplateName="welcome", TemplateData='{"items": []}'),
        call("TestRenderEmailTemplate", TemplateName="nope", TemplateData="{}"),
        call("UpdateEmailTemplate", TemplateName="welcome", TemplateContent=UPDATED),
        call("UpdateEmailTemplate", TemplateName="nope", TemplateContent=UPDATED),
        call("GetEmailTemplate", TemplateName="welcome"),
        call("ListEmailTemplates"),
        call("ListEmailTemplates", NextToken="!!"),
        call("DeleteEmailTemplate", TemplateName="welcome"),
        call("DeleteEmailTemplate", TemplateName="welcome"),
        call("GetEmailTemplate", TemplateName="welcome"),
    )  # fmt: skip

    assert created.ok() == {}
    duplicate.refused("AlreadyExistsException", 400, "Template welcome already exists.")
    empty.refused("BadRequestException", 400)
    assert found.ok() == {"TemplateName": "welcome", "TemplateContent": CONTENT,
                          "Tags": [{"Key": "team", "Value": "growth"}]}  # fmt: skip
    absent.refused("NotFoundException", 404, missing("nope"))

    message = parse_mime(rendered.ok()["RenderedTemplate"])
    assert message["Subject"] == "Hi 지수"
    assert text_of(message.get_body(("plain",))) == "Dear 지수, [a][b]"
    assert text_of(message.get_body(("html",))) == "<p>지수</p>"
    unrendered.refused("BadRequestException", 400,
                       "Attribute 'name' is not present in the rendering data.")
    render_absent.refused("NotFoundException", 404, missing("nope"))

    assert updated.ok() == {}
    update_absent.refused("NotFoundException", 404, missing("nope"))
    assert after_update.ok()["TemplateContent"] == UPDATED
    [summary] = listed.ok()["TemplatesMetadata"]
    assert summary["TemplateName"] == "welcome" and "NextToken" not in listed.ok()
    assert started <= instant(summary["CreatedTimestamp"]) <= datetime.now(UTC)
    bad_token.refused("BadRequestException", 400, "Invalid NextToken.")
    assert deleted.ok() == {}
    delete_absent.refused("NotFoundException", 404, missing("welcome"))
    gone.refused("NotFoundException", 404, missing("welcome"))
