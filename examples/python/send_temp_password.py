"""Mail a user a temporary password through Postroom (or Amazon SES) with boto3.

The scenario of the write-up this project started from: a user forgot their password, the
app mails a fresh temporary one with SES SendEmail. Postroom speaks the SES API, so the only
Postroom-specific line is `endpoint_url`; without it the same code talks to Amazon SES.

usage:
    AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \\
        python send_temp_password.py --from no-reply@myapp.example --to user@example.com

Environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (from `postroom accounts create`),
POSTROOM_ENDPOINT (default http://127.0.0.1:8025), AWS_REGION (default ap-northeast-2).
Prints the MessageId; on an error prints "Code: message" on stderr and exits with 1.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

DEFAULT_ENDPOINT = "http://127.0.0.1:8025"
DEFAULT_REGION = "ap-northeast-2"
# No 0/O, 1/l/I: people type temporary passwords in by hand.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"


def temporary_password(length: int = 12) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def password_reset_email(source: str, recipient: str, password: str) -> dict[str, Any]:
    """SendEmail parameters: a Korean subject, a text and an HTML body."""
    text = "\n".join([
        "안녕하세요.",
        f"요청하신 임시 비밀번호는 {password} 입니다.",
        "로그인한 뒤 반드시 비밀번호를 변경해 주세요.",
        "비밀번호 재설정을 요청하지 않으셨다면 이 메일을 무시하세요.",
    ])
    html = "\n".join([
        "<h1>임시 비밀번호 안내</h1>",
        "<p>안녕하세요.</p>",
        f"<p>요청하신 임시 비밀번호는 <strong><code>{password}</code></strong> 입니다.</p>",
        "<p>로그인한 뒤 반드시 비밀번호를 변경해 주세요.</p>",
        "<p>비밀번호 재설정을 요청하지 않으셨다면 이 메일을 무시하세요.</p>",
    ])
    return {
        "Source": source,
        "Destination": {"ToAddresses": [recipient]},
        "Message": {
            "Subject": {"Charset": "UTF-8", "Data": "임시 비밀번호 안내"},
            "Body": {
                "Text": {"Charset": "UTF-8", "Data": text},
                "Html": {"Charset": "UTF-8", "Data": html},
            },
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mail a temporary password.")
    parser.add_argument("--from", dest="source", required=True,
                        help="sender; must be a verified identity of the account")
    parser.add_argument("--to", dest="recipient", required=True, help="the user's address")
    args = parser.parse_args(argv)
    access_key = os.environ.get("AWS_ACCESS_KEY_ID")
    secret_key = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if not access_key or not secret_key:
        parser.error("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                     "(from `postroom accounts create NAME --json`)")

    ses = boto3.client(
        "ses",
        endpoint_url=os.environ.get("POSTROOM_ENDPOINT", DEFAULT_ENDPOINT),
        region_name=os.environ.get("AWS_REGION", DEFAULT_REGION),
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
    )
    # A real app stores a hash of the password (and an expiry) before mailing it.
    password = temporary_password()
    try:
        response = ses.send_email(**password_reset_email(args.source, args.recipient, password))
    except ClientError as error:
        details = error.response.get("Error", {})
        print(f"{details.get('Code')}: {details.get('Message')}", file=sys.stderr)
        return 1
    except BotoCoreError as error:  # e.g. the server is not running
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(response["MessageId"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
