"""The SES v1 query wire layer against botocore itself (ses-spec.md section 2).

Round trips: example inputs generated from every operation's shape are serialized by
botocore's own query serializer and must parse back to the same dict; example outputs are
rendered by `serialize_result` and must parse back through botocore's query parser. The SNS
model (also query protocol, with map key/value locationNames and anchored patterns) runs
through the same round trips to keep the layer generic. Then validation texts, form
decoding, boto3 end to end through a `before-send` hook, and a fuzz pass.
"""

from __future__ import annotations

import base64
import contextlib
import random
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import botocore.exceptions
import pytest
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.validate import ParamValidator

from postroom.errors import (
    InvalidAction,
    InvalidParameterValue,
    MessageRejected,
    PostroomError,
    ServiceUnavailable,
    ValidationError,
)
from postroom.wire.awsquery import (
    parse_form,
    parse_request,
    serialize_error,
    serialize_result,
)
from postroom.wire.models import ses_model, sesv2_model, sns_model
from postroom.wire.query_plan import KEY_CACHE_LIMIT, service_plans

NS = "http://ses.amazonaws.com/doc/2010-12-01/"
# Shapes with a model pattern get a hand-written value that matches it.
PATTERN_EXAMPLES = {
    "IAMRoleARN": "arn:aws:iam::123456789012:role/postroom-firehose",
    "ConnectInstanceArn": (
        "arn:aws:connect:us-east-1:123456789012:instance/12345678-1234-1234-1234-123456789012"
    ),
    "Iso2CountryCode": "US",
    "OTPCode": "123456",
    "PhoneNumberString": "+12065550100",
}
# Characters that stress form encoding and XML escaping alike.
TRICKY = "a&b <c> \"d\" 'e' +%=/.?#ü€😀\t\r\n"


# --------------------------------------------------------------------------- examples


def _string(shape: Shape, hint: str, index: int) -> str:
    enum = shape.metadata.get("enum")
    if enum:
        return str(enum[index % len(enum)])
    if shape.name in PATTERN_EXAMPLES:
        return PATTERN_EXAMPLES[shape.name]
    text = f"{hint}{index}-{TRICKY}"
    low, high = shape.metadata.get("min", 0), shape.metadata.get("max", 10_000)
    text = text[:high]
    return text + "x" * max(0, low - len(text))


def example(
    shape: Shape, hint: str = "v", index: int = 0, full: bool = True, depth: int = 0
) -> Any:
    """A valid value for `shape`: all members when `full`, else only the required ones."""
    kind = shape.type_name
    if kind == "structure":
        names = list(shape.members) if full else list(shape.required_members)
        if not names and shape.members:
            # An empty structure has no wire form at all (botocore sends nothing for `{}`),
            # so keep one member; test_required_structure_sent_empty covers the empty case.
            names = list(shape.members)[:1]
        return {
            n: example(shape.members[n], n, index, full, depth + 1)
            for n in names
            if depth < 8 or n in shape.required_members
        }
    if kind == "list":
        count = min(2, shape.metadata.get("max", 2))
        return [example(shape.member, hint, index + i, full, depth + 1) for i in range(count)]
    if kind == "map":
        return {
            _string(shape.key, "key", index + i): example(
                shape.value, hint, index + i, full, depth + 1
            )
            for i in range(2)
        }
    return _scalar(shape, hint, index)


def _scalar(shape: Shape, hint: str, index: int) -> Any:
    kind = shape.type_name
    if kind == "string":
        return _string(shape, hint, index)
    if kind in ("integer", "long"):
        low, high = shape.metadata.get("min", -(2**31)), shape.metadata.get("max", 2**31 - 1)
        return max(low, min(high, 7 + index))
    if kind in ("double", "float"):
        return 200.5 + index
    if kind == "boolean":
        return index % 2 == 0
    if kind == "timestamp":
        return datetime(2011, 8, 3, 19, 23, index % 60, 123000, tzinfo=UTC)
    if kind == "blob":
        return b"\x00\xff raw +/= bytes " + bytes([index % 256])
    raise AssertionError(f"no example for {kind}")


def botocore_form(op: OperationModel, params: Mapping[str, Any]) -> bytes:
    """The exact body botocore sends: its query serializer, then its request preparer."""
    if op.input_shape is not None:
        report = ParamValidator().validate(params, op.input_shape)
        assert not report.has_errors(), report.generate_report()
    serialized = create_serializer("query").serialize_to_request(params, op)
    request = AWSRequest(method="POST", url="https://email.local/", data=serialized["body"])
    body = request.prepare().body
    assert isinstance(body, str | bytes)
    return body.encode() if isinstance(body, str) else body


def botocore_parse(op: OperationModel | None, body: bytes, status: int = 200) -> dict[str, Any]:
    shape = op.output_shape if op is not None else None
    response = {"body": body, "headers": {}, "status_code": status}
    parsed: dict[str, Any] = create_parser("query").parse(response, shape)
    return parsed


def _operations(model: ServiceModel) -> Iterator[tuple[ServiceModel, str]]:
    for name in model.operation_names:
        yield model, name


ALL_OPS = [*_operations(ses_model()), *_operations(sns_model())]
OP_IDS = [f"{m.service_name}.{n}" for m, n in ALL_OPS]


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("full", [True, False], ids=["all-members", "required-only"])
@pytest.mark.parametrize(("model", "name"), ALL_OPS, ids=OP_IDS)
def test_input_round_trip_through_botocore_serializer(
    model: ServiceModel, name: str, full: bool
) -> None:
    op = model.operation_model(name)
    params = example(op.input_shape, full=full) if op.input_shape is not None else {}
    body = botocore_form(op, params)
    assert parse_request(model, parse_form(body)) == (name, params)


@pytest.mark.parametrize(("model", "name"), ALL_OPS, ids=OP_IDS)
def test_output_round_trip_through_botocore_parser(model: ServiceModel, name: str) -> None:
    op = model.operation_model(name)
    output = example(op.output_shape) if op.output_shape is not None else None
    xml = serialize_result(model, name, output, "req-1")
    parsed = botocore_parse(op, xml)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    assert parsed == (output or {})


@pytest.mark.parametrize(("model", "name"), ALL_OPS, ids=OP_IDS)
def test_empty_output_still_has_result_element(model: ServiceModel, name: str) -> None:
    op = model.operation_model(name)
    xml = serialize_result(model, name, None, "req-2").decode()
    wrapper = op.output_shape.serialization["resultWrapper"] if op.output_shape else None
    if wrapper is None:
        assert "Result" not in xml
    else:
        assert f"<{wrapper}/>" in xml
    # botocore raises KeyError when <OpResult> is missing (ses-spec.md 2.4).
    assert botocore_parse(op, xml.encode())["ResponseMetadata"]["RequestId"] == "req-2"


def test_ses_envelope_is_exact() -> None:
    xml = serialize_result(ses_model(), "SendEmail", {"MessageId": "0100-abc"}, "rid-1")
    assert (
        xml
        == (
            f'<SendEmailResponse xmlns="{NS}"><SendEmailResult><MessageId>0100-abc</MessageId>'
            "</SendEmailResult><ResponseMetadata><RequestId>rid-1</RequestId></ResponseMetadata>"
            "</SendEmailResponse>"
        ).encode()
    )
    xml = serialize_result(ses_model(), "VerifyEmailAddress", None, "rid-2")
    assert (
        xml
        == (
            f'<VerifyEmailAddressResponse xmlns="{NS}"><ResponseMetadata><RequestId>rid-2'
            "</RequestId></ResponseMetadata></VerifyEmailAddressResponse>"
        ).encode()
    )
    assert b"<DeleteIdentityResult/>" in serialize_result(ses_model(), "DeleteIdentity", {}, "r")


def test_scalar_renderings() -> None:
    quota = {"Max24HourSend": 200, "MaxSendRate": 1.0, "SentLast24Hours": 0.0}
    xml = serialize_result(ses_model(), "GetSendQuota", quota, "r").decode()
    assert "<Max24HourSend>200.0</Max24HourSend><MaxSendRate>1.0</MaxSendRate>" in xml
    stats = {"SendDataPoints": [{"Timestamp": 1312399380.0, "DeliveryAttempts": 5}]}
    xml = serialize_result(ses_model(), "GetSendStatistics", stats, "r").decode()
    assert "<SendDataPoints><member><Timestamp>2011-08-03T19:23:00Z</Timestamp>" in xml
    naive = {"SendDataPoints": [{"Timestamp": datetime(2011, 8, 3, 19, 23, 0, 250000)}]}
    xml = serialize_result(ses_model(), "GetSendStatistics", naive, "r").decode()
    assert "<Timestamp>2011-08-03T19:23:00.250Z</Timestamp>" in xml
    xml = serialize_result(ses_model(), "GetAccountSendingEnabled", {"Enabled": False}, "r")
    assert b"<Enabled>false</Enabled>" in xml


def test_map_rendering() -> None:
    attrs = {"VerificationAttributes": {"example.com": {"VerificationStatus": "Success"}}}
    xml = serialize_result(ses_model(), "GetIdentityVerificationAttributes", attrs, "r").decode()
    assert (
        "<VerificationAttributes><entry><key>example.com</key><value>"
        "<VerificationStatus>Success</VerificationStatus></value></entry>"
        "</VerificationAttributes>"
    ) in xml


def test_output_escapes_and_scrubs_text() -> None:
    nasty = "Sendportal <a@b.com> & co\r\n\x00\x1f\ud800 end"
    xml = serialize_result(ses_model(), "GetTemplate", {"Template": {"TemplateName": nasty}}, "r")
    assert b"Sendportal &lt;a@b.com&gt; &amp; co&#13;\n" in xml
    parsed = botocore_parse(ses_model().operation_model("GetTemplate"), xml)
    assert (
        parsed["Template"]["TemplateName"] == "Sendportal <a@b.com> & co\r\n\ufffd\ufffd\ufffd end"
    )


def test_output_ignores_unknown_keys_and_none() -> None:
    out = {"Identities": ["a@b.com", None], "NextToken": None, "Bogus": 1}
    xml = serialize_result(ses_model(), "ListIdentities", out, "r")
    parsed = botocore_parse(ses_model().operation_model("ListIdentities"), xml)
    assert parsed["Identities"] == ["a@b.com"]
    assert "NextToken" not in parsed


def test_serialize_result_unknown_operation_is_a_postroom_error() -> None:
    with pytest.raises(PostroomError):
        serialize_result(ses_model(), "NoSuchThing", {}, "r")


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("error", "fault", "status"),
    [
        (MessageRejected("Email address is not verified: <a@b.com> & more"), "Sender", 400),
        (InvalidAction(code="MissingAction"), "Sender", 400),
        (ServiceUnavailable(), "Receiver", 503),
        (PostroomError(), "Receiver", 500),
    ],
)
def test_error_xml_parsed_by_botocore(error: PostroomError, fault: str, status: int) -> None:
    body = serialize_error(error, "err-1")
    assert body.startswith(f'<ErrorResponse xmlns="{NS}"><Error><Type>{fault}</Type>'.encode())
    parsed = botocore_parse(None, body, status=status)
    assert parsed["Error"] == {"Type": fault, "Code": error.code, "Message": error.message}
    assert parsed["ResponseMetadata"]["RequestId"] == "err-1"


def test_error_namespace_can_be_sns() -> None:
    body = serialize_error(
        InvalidAction(), "r", namespace="http://sns.amazonaws.com/doc/2010-03-31/"
    )
    assert body.startswith(b'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">')


# --------------------------------------------------------------------------- requests


def form(**params: str) -> dict[str, str]:
    return {"Version": "2010-12-01", **params}


def send_email(**extra: str) -> dict[str, str]:
    return form(
        Action="SendEmail",
        Source="a@example.com",
        **{"Destination.ToAddresses.member.1": "b@example.com", "Message.Subject.Data": "Hi"},
        **{"Message.Body.Text.Data": "Hello"},
        **extra,
    )


def validation_message(params: Mapping[str, str]) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_request(ses_model(), params)
    assert caught.value.code == "ValidationError"
    assert caught.value.status == 400
    return caught.value.message


def invalid_value_message(params: Mapping[str, str]) -> str:
    with pytest.raises(InvalidParameterValue) as caught:
        parse_request(ses_model(), params)
    assert caught.value.code == "InvalidParameterValue"
    return caught.value.message


def test_send_email_parses() -> None:
    op, data = parse_request(ses_model(), send_email())
    assert op == "SendEmail"
    assert data == {
        "Source": "a@example.com",
        "Destination": {"ToAddresses": ["b@example.com"]},
        "Message": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Hello"}}},
    }


def test_missing_source() -> None:
    params = send_email()
    del params["Source"]
    assert validation_message(params) == (
        "1 validation error detected: Value null at 'source' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_several_errors_are_counted_in_model_order() -> None:
    message = validation_message(form(Action="SendEmail", **{"Message.Subject.Charset": "x"}))
    assert message == (
        "2 validation errors detected: "
        "Value null at 'source' failed to satisfy constraint: Member must not be null; "
        "Value null at 'message.subject.data' failed to satisfy constraint: "
        "Member must not be null"
    )
    assert validation_message(form(Action="PutIdentityPolicy")).startswith(
        "3 validation errors detected: Value null at 'identity' failed to satisfy constraint: "
        "Member must not be null; Value null at 'policyName' failed"
    )


def test_required_structure_sent_empty() -> None:
    """botocore sends nothing for a required structure whose members are all optional
    (`TrackingOptions={}`) or for an empty map, so absence there means `{}`, not null."""
    op = ses_model().operation_model("CreateConfigurationSetTrackingOptions")
    params = {"ConfigurationSetName": "cs", "TrackingOptions": {}}
    body = botocore_form(op, params)
    assert set(parse_form(body)) == {"Action", "Version", "ConfigurationSetName"}
    assert parse_request(ses_model(), parse_form(body)) == (op.name, params)
    # SendEmail's Destination and Message.Body are such structures too; the domain layer
    # decides whether an empty one is acceptable.
    _, data = parse_request(
        ses_model(), form(Action="SendEmail", Source="a@b.c", **{"Message.Subject.Data": "s"})
    )
    assert data["Destination"] == {} and data["Message"]["Body"] == {}


def test_string_lengths() -> None:
    params = form(Action="PutIdentityPolicy", Identity="example.com", Policy="")
    params["PolicyName"] = "p" * 65
    assert validation_message(params) == (
        "2 validation errors detected: "
        f"Value '{'p' * 65}' at 'policyName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64; "
        "Value '' at 'policy' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )


def test_long_values_are_cut_short_in_messages() -> None:
    params = form(Action="SendTemplatedEmail", Source="a@b.c", Template="t")
    params["Destination.ToAddresses.member.1"] = "b@c.d"
    params["TemplateData"] = "x" * 262_145
    message = validation_message(params)
    assert message.startswith(
        f"1 validation error detected: Value '{'x' * 256}...' at 'templateData'"
    )
    assert message.endswith("Member must have length less than or equal to 262144")


@pytest.mark.parametrize(
    ("value", "constraint"),
    [("0", "greater than or equal to 1"), ("51", "less than or equal to 50")],
)
def test_integer_range(value: str, constraint: str) -> None:
    params = form(Action="ListCustomVerificationEmailTemplates", MaxResults=value)
    assert validation_message(params) == (
        f"1 validation error detected: Value '{value}' at 'maxResults' failed to satisfy "
        f"constraint: Member must have value {constraint}"
    )


def test_bad_enum() -> None:
    params = form(Action="SetIdentityNotificationTopic", Identity="x.com", NotificationType="Spam")
    assert validation_message(params) == (
        "1 validation error detected: Value 'Spam' at 'notificationType' failed to satisfy "
        "constraint: Member must satisfy enum value set: [Bounce, Complaint, Delivery]"
    )


def test_nested_list_paths_follow_aws() -> None:
    params = form(
        Action="SendBounce",
        OriginalMessageId="m",
        BounceSender="b@x.com",
        **{"BouncedRecipientInfoList.member.1.Recipient": "r@x.com"},
        **{"BouncedRecipientInfoList.member.2.BounceType": "Nope"},
    )
    message = validation_message(params)
    assert "Value null at 'bouncedRecipientInfoList.2.member.recipient'" in message
    assert "Value 'Nope' at 'bouncedRecipientInfoList.2.member.bounceType'" in message
    assert message.startswith("2 validation errors detected: ")


def test_pattern() -> None:
    prefix = "Rule.Actions.member.1.S3Action."
    params = form(
        Action="CreateReceiptRule",
        RuleSetName="rs",
        **{
            "Rule.Name": "r",
            prefix + "BucketName": "b",
            prefix + "IamRoleArn": "arn:aws:iam::1:user/x",
        },
    )
    assert validation_message(params) == (
        "1 validation error detected: Value 'arn:aws:iam::1:user/x' at "
        "'rule.actions.1.member.s3Action.iamRoleArn' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: "
        + ses_model().shape_for("IAMRoleARN").metadata["pattern"]
    )
    params[prefix + "IamRoleArn"] = PATTERN_EXAMPLES["IAMRoleARN"]
    _, data = parse_request(ses_model(), params)
    assert data["Rule"]["Actions"][0]["S3Action"]["IamRoleArn"] == PATTERN_EXAMPLES["IAMRoleARN"]


def test_empty_list_is_kept() -> None:
    _, data = parse_request(ses_model(), parse_form(b"ReplyToAddresses=&" + _send_email_form()))
    assert data["ReplyToAddresses"] == []


def test_member_order_on_the_wire_does_not_matter() -> None:
    params = send_email()
    params.update(
        {
            "Destination.ToAddresses.member.2": "second@x.com",
            "Destination.ToAddresses.member.10": "tenth@x.com",
            "Destination.ToAddresses.member.1": "first@x.com",
            "Tags.member.2.Value": "v2",
            "Tags.member.1.Name": "n1",
            "Tags.member.2.Name": "n2",
            "Tags.member.1.Value": "v1",
        }
    )
    _, data = parse_request(ses_model(), params)
    assert data["Destination"]["ToAddresses"] == ["first@x.com", "second@x.com", "tenth@x.com"]
    assert data["Tags"] == [{"Name": "n1", "Value": "v1"}, {"Name": "n2", "Value": "v2"}]


def test_junk_params_are_ignored() -> None:
    junk = {
        "Foo": "bar",
        "Message.Nope": "1",
        "Source.Deeper": "1",
        "Destination.ToAddresses.member.0": "zero@x.com",
        "Destination.ToAddresses.member.01": "lead@x.com",
        "Destination.ToAddresses.member.x": "x@x.com",
        "Destination.ToAddresses.member": "nothing",
        "Destination.ToAddresses.entry.1": "wrong@x.com",
        "Destination.ToAddresses.member.٣": "arabic@x.com",
        "Tags.member.1": "scalar-for-struct",
        "Message": "scalar-for-struct",
        "X-Amz-Signature": "abc",
        ".": "",
        "": "",
        "a" * 5000: "long",
        "." * 100: "dots",
    }
    _, data = parse_request(ses_model(), send_email(**junk))
    _, clean = parse_request(ses_model(), send_email())
    assert data == clean


def test_key_cache_is_bounded() -> None:
    plan = service_plans(ses_model()).operation("SendEmail")
    assert plan is not None
    junk = {f"Junk{i}.member.1": "x" for i in range(KEY_CACHE_LIMIT + 10)}
    _, data = parse_request(ses_model(), send_email(**junk))
    assert data == parse_request(ses_model(), send_email())[1]
    assert len(plan.key_cache) <= KEY_CACHE_LIMIT


def test_bad_base64() -> None:
    params = form(Action="SendRawEmail", **{"RawMessage.Data": "not*base64"})
    assert invalid_value_message(params) == (
        "Value 'not*base64' for parameter RawMessage.Data is invalid: expected base64-encoded data."
    )


def test_lenient_base64_and_blob_bytes() -> None:
    raw = b"From: a@b.c\r\nSubject: hi\r\n\r\n\xff\x00body"
    text = base64.b64encode(raw).decode()
    for variant in (
        text,
        text.rstrip("="),
        "\r\n".join(text[i : i + 8] for i in range(0, len(text), 8)),
    ):
        params = form(Action="SendRawEmail", **{"RawMessage.Data": variant})
        assert parse_request(ses_model(), params)[1] == {"RawMessage": {"Data": raw}}


@pytest.mark.parametrize("value", ["abc", "1_0", " 5", "5 ", "٣", "1.5", "", "99999999999"])
def test_bad_integer(value: str) -> None:
    message = invalid_value_message(
        form(Action="ListCustomVerificationEmailTemplates", MaxResults=value)
    )
    assert "for parameter MaxResults is invalid: expected a 32-bit integer." in message


@pytest.mark.parametrize("value", ["yes", "1", "", "truee"])
def test_bad_boolean(value: str) -> None:
    message = invalid_value_message(form(Action="UpdateAccountSendingEnabled", Enabled=value))
    assert message == f"Value '{value}' for parameter Enabled is invalid: expected true or false."


def test_booleans_any_case() -> None:
    for text, expected in (("true", True), ("FALSE", False), ("True", True)):
        _, data = parse_request(
            ses_model(), form(Action="UpdateAccountSendingEnabled", Enabled=text)
        )
        assert data == {"Enabled": expected}


def test_timestamps() -> None:
    base = form(Action="SendBounce", OriginalMessageId="m", BounceSender="b@x.com")
    base["BouncedRecipientInfoList.member.1.Recipient"] = "r@x.com"
    base["MessageDsn.ReportingMta"] = "dns; mta.example.com"
    expected = datetime(2011, 8, 3, 19, 23, tzinfo=UTC)
    for text in ("2011-08-03T19:23:00Z", "2011-08-03T21:23:00+02:00", "1312399380"):
        _, data = parse_request(ses_model(), {**base, "MessageDsn.ArrivalDate": text})
        assert data["MessageDsn"]["ArrivalDate"] == expected
    message = invalid_value_message({**base, "MessageDsn.ArrivalDate": "yesterday"})
    assert (
        "for parameter MessageDsn.ArrivalDate is invalid: expected an ISO 8601 timestamp."
        in message
    )


def test_missing_action() -> None:
    with pytest.raises(InvalidAction) as caught:
        parse_request(ses_model(), {"Version": "2010-12-01"})
    assert caught.value.code == "MissingAction"
    assert caught.value.message == "The request is missing an action or a required parameter."


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"Action": "SendPigeon"}, "Could not find operation SendPigeon for version 2010-12-01"),
        (
            {"Action": "GetSendStatistics", "Version": "2012-12-01"},
            "Could not find operation GetSendStatistics for version 2012-12-01",
        ),
        (
            {"Action": "sendemail", "Version": "2010-12-01"},
            "Could not find operation sendemail for version 2010-12-01",
        ),
    ],
)
def test_invalid_action(params: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidAction) as caught:
        parse_request(ses_model(), params)
    assert caught.value.code == "InvalidAction"
    assert caught.value.message == message


def test_operation_without_input_ignores_params() -> None:
    assert parse_request(ses_model(), form(Action="GetSendQuota", Junk="1")) == ("GetSendQuota", {})


# --------------------------------------------------------------------------- form decoding


def _send_email_form() -> bytes:
    return urlencode(send_email()).encode()


def test_parse_form_basics() -> None:
    body = b"A=1&B=&C&D=x+y%2Bz%3D&E=%E2%82%AC&A=2&&F=a%ZZb&G=%ff"
    assert parse_form(body) == {
        "A": "2",
        "B": "",
        "C": "",
        "D": "x y+z=",
        "E": "€",
        "F": "a%ZZb",
        "G": "\ufffd",
    }


def test_parse_form_query_string_and_body() -> None:
    params = parse_form(
        b"Action=SendEmail&X=body", "Action=GetSendQuota&Y=qs&Message.Subject.Data=a+b"
    )
    assert params == {"Action": "SendEmail", "X": "body", "Y": "qs", "Message.Subject.Data": "a b"}
    assert parse_form(b"", "Action=GetSendQuota") == {"Action": "GetSendQuota"}


def test_parse_form_raw_utf8_and_bad_bytes() -> None:
    assert parse_form("K=é€".encode() + b"\xff") == {"K": "é€\ufffd"}


def test_parse_form_large_base64_blob() -> None:
    raw = bytes(range(256)) * 4096
    encoded = base64.b64encode(raw).decode()
    body = f"Action=SendRawEmail&RawMessage.Data={quote(encoded, safe='')}".encode()
    params = parse_form(body)
    assert params["RawMessage.Data"] == encoded
    assert parse_request(ses_model(), params)[1]["RawMessage"]["Data"] == raw


# --------------------------------------------------------------------------- boto3 end to end


def _fake_ses(handler: Callable[[str, dict[str, Any]], Mapping[str, Any] | None]) -> Any:
    """A boto3 SES client whose HTTP layer is our wire layer plus `handler`."""
    client = boto3.client(
        "ses",
        region_name="us-east-1",
        endpoint_url="https://email.local",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
    )

    def before_send(request: Any, **_: Any) -> AWSResponse:
        body = request.body if isinstance(request.body, bytes) else request.body.encode()
        try:
            op, data = parse_request(ses_model(), parse_form(body))
            xml, status = serialize_result(ses_model(), op, handler(op, data), "rid-e2e"), 200
        except PostroomError as error:
            xml, status = serialize_error(error, "rid-e2e"), error.status
        return AWSResponse(request.url, status, {"x-amzn-RequestId": "rid-e2e"}, _Raw(xml))

    client.meta.events.register("before-send.ses", before_send)
    return client


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def test_boto3_end_to_end() -> None:
    seen: dict[str, dict[str, Any]] = {}

    def handler(op: str, data: dict[str, Any]) -> Mapping[str, Any] | None:
        seen[op] = data
        if op == "SendRawEmail":
            return {"MessageId": "raw-1"}
        if op == "SendEmail":
            raise MessageRejected("Email address is not verified.")
        if op == "GetSendStatistics":
            return {"SendDataPoints": [{"Timestamp": 1312399380.0, "Bounces": 1}]}
        return None

    ses = _fake_ses(handler)
    raw = b"Subject: hi\r\n\r\n\xffbody"
    result = ses.send_raw_email(RawMessage={"Data": raw}, Destinations=["a@b.c"])
    assert result["MessageId"] == "raw-1"
    assert result["ResponseMetadata"]["RequestId"] == "rid-e2e"
    assert seen["SendRawEmail"] == {"RawMessage": {"Data": raw}, "Destinations": ["a@b.c"]}
    points = ses.get_send_statistics()["SendDataPoints"]
    assert points[0]["Timestamp"] == datetime(2011, 8, 3, 19, 23, tzinfo=UTC)
    assert ses.delete_identity(Identity="x.com")["ResponseMetadata"]["RequestId"] == "rid-e2e"
    assert (
        ses.verify_email_address(EmailAddress="a@b.c")["ResponseMetadata"]["HTTPStatusCode"] == 200
    )
    with pytest.raises(ses.exceptions.MessageRejected) as caught:
        ses.send_email(
            Source="a@b.c",
            Destination={"ToAddresses": []},
            Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}},
            ReplyToAddresses=[],
        )
    assert caught.value.response["Error"]["Message"] == "Email address is not verified."
    assert seen["SendEmail"]["ReplyToAddresses"] == []
    assert seen["SendEmail"]["Destination"] == {"ToAddresses": []}


def test_boto3_sees_validation_errors_as_client_errors() -> None:
    ses = _fake_ses(lambda op, data: None)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        ses.list_custom_verification_email_templates(MaxResults=51)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert error["Type"] == "Sender"
    assert "at 'maxResults' failed to satisfy constraint" in error["Message"]


# --------------------------------------------------------------------------- fuzz

NASTY = [
    "",
    " ",
    "0",
    "-1",
    "1e999",
    "NaN",
    "true",
    "yes",
    "=",
    "&",
    "%",
    "%zz",
    ".",
    "..",
    "\x00",
    "\ud800",
    "😀" * 3,
    "a" * 300,
    "2011-13-45T99:99:99Z",
    "====",
    "member",
    "1",
    "99999999999999999999999",
    "Infinity",
    "-0",
    "+",
    "9" * 30,
]


def _fuzz_params(rng: random.Random, model: ServiceModel, name: str) -> dict[str, str]:
    op = model.operation_model(name)
    params = dict(parse_form(botocore_form(op, example(op.input_shape)))) if op.input_shape else {}
    keys = [k for k in params if k not in ("Action", "Version")]
    for key in rng.sample(keys, k=min(len(keys), rng.randint(0, 4))):
        action = rng.random()
        if action < 0.3:
            del params[key]
        elif action < 0.8:
            params[key] = rng.choice(NASTY)
        else:
            parts = key.split(".")
            parts[rng.randrange(len(parts))] = rng.choice(NASTY)
            params[".".join(parts)] = rng.choice(NASTY)
    if rng.random() < 0.1:
        params["Action"] = rng.choice(NASTY)
    return params


def test_fuzz_only_postroom_errors() -> None:
    rng = random.Random(20100301)
    models = [ses_model(), sns_model()]
    outcomes = {"ok": 0, "error": 0}
    for _ in range(6000):
        model = rng.choice(models)
        name = rng.choice(model.operation_names)
        params = _fuzz_params(rng, model, name)
        try:
            parse_request(model, params)
            outcomes["ok"] += 1
        except PostroomError as error:
            assert error.status == 400, error
            serialize_error(error, "r").decode()
            outcomes["error"] += 1
    assert outcomes["ok"] > 500 and outcomes["error"] > 500, outcomes


def test_fuzz_random_bytes_through_parse_form() -> None:
    rng = random.Random(7)
    alphabet = b"ActionSendEmailVrsoMmbr.=&%+0123456789ABCDEF\xff\x00 "
    for _ in range(3000):
        body = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        params = parse_form(body, body.decode("latin-1"))
        params["Action"] = rng.choice(
            ["SendEmail", "SendRawEmail", "SendBounce", params.get("Action", "")]
        )
        with contextlib.suppress(PostroomError):
            parse_request(ses_model(), params)


def test_models_are_cached_and_pinned() -> None:
    assert ses_model() is ses_model()
    assert ses_model().api_version == "2010-12-01"
    assert sesv2_model().api_version == "2019-09-27"
    assert sns_model().api_version == "2010-03-31"
    assert ses_model().protocol == "query"
