"""Time the SES v1 query wire layer on a typical SendEmail (not run by pytest).

    .venv/bin/python bench/awsquery_parse.py [--number N]

The form is the body botocore sends for a SendEmail with two recipients, a reply-to, text
and HTML bodies and two tags. Target (task brief): parse + validate well under 100 us.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import timeit
from collections.abc import Callable
from urllib.parse import urlencode

from postroom.wire.awsquery import parse_form, parse_request, serialize_result
from postroom.wire.models import ses_model

SEND_EMAIL = {
    "Action": "SendEmail",
    "Version": "2010-12-01",
    "Source": "Sender Name <sender@example.com>",
    "Destination.ToAddresses.member.1": "alice@example.com",
    "Destination.ToAddresses.member.2": "bob@example.org",
    "Destination.CcAddresses.member.1": "carol@example.net",
    "Message.Subject.Data": "Your order #12345 has shipped",
    "Message.Subject.Charset": "UTF-8",
    "Message.Body.Text.Data": "Hello,\n\nYour order is on its way.\n" * 10,
    "Message.Body.Text.Charset": "UTF-8",
    "Message.Body.Html.Data": "<p>Hello,</p><p>Your order is on its way.</p>" * 10,
    "Message.Body.Html.Charset": "UTF-8",
    "ReplyToAddresses.member.1": "support@example.com",
    "Tags.member.1.Name": "campaign",
    "Tags.member.1.Value": "shipping",
    "Tags.member.2.Name": "tenant",
    "Tags.member.2.Value": "acme",
    "ConfigurationSetName": "transactional",
}


def _time(label: str, func: Callable[[], object], number: int) -> None:
    runs = timeit.repeat(func, number=number, repeat=5)
    per_call = [run / number * 1e6 for run in runs]
    print(
        f"{label:<44} best {min(per_call):8.2f} us   median {statistics.median(per_call):8.2f} us"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20_000)
    number = parser.parse_args().number

    model = ses_model()
    body = urlencode(SEND_EMAIL).encode()
    params = parse_form(body)
    parse_request(model, params)  # compile and cache the plan first
    output = {"MessageId": "0100018c5e1c4a11-2f7a1b0e-9c3d-4e5f-8a6b-1c2d3e4f5a6b-000000"}

    _time("parse_request(SendEmail)", lambda: parse_request(model, params), number)
    _time(
        "parse_form + parse_request(SendEmail)",
        lambda: parse_request(model, parse_form(body)),
        number,
    )
    _time(
        "serialize_result(SendEmail)",
        lambda: serialize_result(model, "SendEmail", output, "r"),
        number,
    )

    raw = base64.b64encode(os.urandom(10 * 1024 * 1024)).decode()
    big = urlencode(
        {"Action": "SendRawEmail", "Version": "2010-12-01", "RawMessage.Data": raw}
    ).encode()
    _time(
        "parse_form + parse_request(10 MB SendRawEmail)",
        lambda: parse_request(model, parse_form(big)),
        3,
    )


if __name__ == "__main__":
    main()
