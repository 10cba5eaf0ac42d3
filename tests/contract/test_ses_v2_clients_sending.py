"""Contract: SES v2 sending through two clients we did not write, the AWS CLI
(`aws sesv2`) and @aws-sdk/client-sesv2 (sesv2_clients.py), against a real
`postroom serve --delivery capture`: SendEmail with Simple content (custom headers, an
attachment), Raw content, a stored template by name and an inline TemplateContent, and
SendBulkEmail with per-entry results; what was sent is read back from the capture mailbox.
Refusals: MessageRejected (an unverified sender), NotFoundException (no such template),
BadRequestException (two kinds of content, a bulk send without a template) and
TooManyRequestsException (the daily quota). The boto3 `sesv2` versions:
test_ses_v2_sending.py and test_templates_v2.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ses_support import FAST_RATE, TenantFactory, parse_mime, text_of, verify_domain
from sesv2_clients import REGION, Blob, Sesv2ClientFor, call, captured

from postroom.testing.dns import TestDnsServer

MESSAGE_ID = re.compile(r"^[0-9a-f]{16}(-[0-9a-f]{4,12}){5}-000000$")
TEMPLATE = {"Subject": "Hi {{name}}", "Text": "Dear {{name}}.", "Html": "<p>{{name}}</p>"}
NOT_VERIFIED = (
    "Email address is not verified. The following identities failed the check in region "
    f"{REGION.upper()}: "
)
ATTACHMENT = "보고서 내용: 42\n".encode()  # the CLI takes a blob in JSON as UTF-8 text
RAW = (b"From: Ann <ann@example.com>\r\nTo: visible@example.com\r\nSubject: Raw v2\r\n"
       b"X-Kept: yes\r\n\r\nRaw body line.\r\n")  # fmt: skip
# Messages the successful sends below count against the daily quota (one recipient each,
# the bulk send's invalid entry not counted): the next one is over it.
DAILY_QUOTA = 6


def destination(*to: str) -> dict[str, list[str]]:
    return {"ToAddresses": list(to)}


def bulk_entry(address: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"Destination": destination(address)}
    if data is not None:
        entry["ReplacementEmailContent"] = {
            "ReplacementTemplate": {"ReplacementTemplateData": json.dumps(data)}}
    return entry


def test_send_email_and_send_bulk_email(
    sesv2_client_for: Sesv2ClientFor, shared_tenant_factory: TenantFactory,
    shared_dns: TestDnsServer,
) -> None:  # fmt: skip
    tenant = shared_tenant_factory(f"sender-{sesv2_client_for.kind}", max_24h=DAILY_QUOTA,
                                   max_rate=FAST_RATE)  # fmt: skip
    verify_domain(shared_dns, tenant.client(REGION), "example.com")
    client = sesv2_client_for(tenant)
    simple = {"Simple": {
        "Subject": {"Data": "주문하신 보고서입니다", "Charset": "UTF-8"},
        "Body": {"Text": {"Data": "본문입니다.", "Charset": "UTF-8"},
                 "Html": {"Data": "<p>본문</p>", "Charset": "UTF-8"}},
        "Headers": [{"Name": "X-Campaign", "Value": "spring-2026"}],
        "Attachments": [{"RawContent": Blob(ATTACHMENT), "FileName": "보고서.txt",
                         "ContentType": "text/plain"}],
    }}  # fmt: skip
    data = json.dumps({"name": "지수"}, ensure_ascii=False)
    sender = {"FromEmailAddress": "shop@example.com"}

    (
        template, sent_simple, sent_raw, sent_stored, sent_inline, bulk, unverified,
        no_template, two_contents, bulk_without_template, over_quota, account,
    ) = client.run(
        call("CreateEmailTemplate", TemplateName="welcome", TemplateContent=TEMPLATE),
        call("SendEmail", FromEmailAddress="Sales <sales@example.com>",
             Destination=destination("ann@example.com"), Content=simple,
             ReplyToAddresses=["help@example.com"],
             EmailTags=[{"Name": "campaign", "Value": "spring"}]),
        call("SendEmail", FromEmailAddress="ann@example.com",
             Destination=destination("hidden@example.com"), Content={"Raw": {"Data": Blob(RAW)}}),
        call("SendEmail", **sender, Destination=destination("bo@example.com"),
             Content={"Template": {"TemplateName": "welcome", "TemplateData": data}}),
        call("SendEmail", **sender, Destination=destination("cy@example.com"),
             Content={"Template": {"TemplateContent": {"Subject": "Inline {{name}}",
                                                       "Text": "inline {{name}}"},
                                   "TemplateData": data}}),
        call("SendBulkEmail", **sender,
             DefaultContent={"Template": {"TemplateName": "welcome",
                                          "TemplateData": '{"name": "you"}'}},
             BulkEmailEntries=[bulk_entry("di@example.com", {"name": "Di"}),
                               bulk_entry("ed@example.com"),
                               bulk_entry("not an address", {})]),
        call("SendEmail", FromEmailAddress="me@unverified.example",
             Destination=destination("ann@example.com"), Content=simple),
        call("SendEmail", **sender, Destination=destination("ann@example.com"),
             Content={"Template": {"TemplateName": "nope", "TemplateData": "{}"}}),
        call("SendEmail", **sender, Destination=destination("ann@example.com"),
             Content={**simple, "Raw": {"Data": Blob(RAW)}}),
        call("SendBulkEmail", **sender, DefaultContent={},
             BulkEmailEntries=[bulk_entry("di@example.com")]),
        call("SendEmail", **sender, Destination=destination("ann@example.com"), Content=simple),
        call("GetAccount"),
    )  # fmt: skip

    assert template.ok() == {}
    ids = [sent.ok()["MessageId"] for sent in (sent_simple, sent_raw, sent_stored, sent_inline)]
    results = bulk.ok()["BulkEmailEntryResults"]
    assert [r["Status"] for r in results] == ["SUCCESS", "SUCCESS", "INVALID_PARAMETER"]
    assert results[2]["Error"]
    ids += [r["MessageId"] for r in results[:2]]
    assert all(MESSAGE_ID.fullmatch(i) for i in ids) and len(set(ids)) == len(ids)
    unverified.refused("MessageRejected", 400, NOT_VERIFIED + "me@unverified.example")
    no_template.refused("NotFoundException", 404, "Template nope does not exist.")
    assert "exactly one" in two_contents.refused("BadRequestException", 400)
    bulk_without_template.refused("BadRequestException", 400,
                                  "DefaultContent must contain a Template.")
    over_quota.refused("TooManyRequestsException", 429, "Daily message quota exceeded.")
    assert account.ok()["SendQuota"] == {"Max24HourSend": DAILY_QUOTA,
                                         "MaxSendRate": FAST_RATE,
                                         "SentLast24Hours": DAILY_QUOTA}  # fmt: skip

    mails = captured(tenant, *ids)
    simple_id, raw_id, stored_id, inline_id, bulk_di, bulk_ed = ids
    message = parse_mime(mails[simple_id]["raw"])
    assert mails[simple_id]["destinations"] == ["ann@example.com"]
    assert mails[simple_id]["source"] == "sales@example.com"
    assert (message["Subject"], message["From"]) == ("주문하신 보고서입니다",
                                                     "Sales <sales@example.com>")  # fmt: skip
    assert (message["Reply-To"], message["X-Campaign"]) == ("help@example.com", "spring-2026")
    assert message["Message-ID"] == f"<{simple_id}@{REGION}.amazonses.com>"
    assert text_of(message.get_body(("plain",))) == "본문입니다."
    assert text_of(message.get_body(("html",))) == "<p>본문</p>"
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "보고서.txt"
    assert attachment.get_content_type() == "text/plain"
    assert attachment.get_payload(decode=True) == ATTACHMENT

    raw = parse_mime(mails[raw_id]["raw"])
    assert mails[raw_id]["destinations"] == ["hidden@example.com"]  # the envelope, not To
    assert (raw["To"], raw["Subject"], raw["X-Kept"]) == ("visible@example.com", "Raw v2", "yes")
    assert raw.get_content().replace("\r\n", "\n") == "Raw body line.\n"

    subjects = {i: parse_mime(mails[i]["raw"])["Subject"]
                for i in (stored_id, inline_id, bulk_di, bulk_ed)}  # fmt: skip
    assert subjects == {stored_id: "Hi 지수", inline_id: "Inline 지수", bulk_di: "Hi Di",
                        bulk_ed: "Hi you"}  # fmt: skip
    assert mails[bulk_di]["destinations"] == ["di@example.com"]
