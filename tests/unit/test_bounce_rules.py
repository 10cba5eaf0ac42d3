"""The bounce table against a corpus of real-world SMTP replies, and its strict validation.

Replies are written as they appear on the wire (multi-line replies keep their `550-`
continuation lines) and go through the transport's own `parse_reply`, so the classifier
sees exactly what it sees in production. Addresses and IPs are replaced by documentation
values (example.org, 192.0.2.0/24); the wording is the providers'.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from postroom.delivery import bounce_table
from postroom.delivery.bounce_table import BounceTableError
from postroom.delivery.outcomes import (
    ACCOUNT_SUPPRESSED_TEXT,
    TABLE,
    Outcome,
    account_suppressed,
    classify,
    delay_type,
    expired,
)
from postroom.delivery.simulator import SUPPRESSED_TEXT
from postroom.delivery.smtp_replies import parse_reply

# (kind, bounceType, bounceSubType, suppress, delayType)
Expected = tuple[str, str, str, bool, str]
DELIVERED: Expected = ("delivered", "", "", False, "")
NO_EMAIL: Expected = ("bounced", "Permanent", "NoEmail", True, "")
HARD: Expected = ("bounced", "Permanent", "General", True, "")
HARD_KEEP: Expected = ("bounced", "Permanent", "General", False, "")  # not suppressed
POLICY: Expected = ("bounced", "Transient", "General", False, "")
FULL: Expected = ("bounced", "Transient", "MailboxFull", False, "")
TOO_LARGE: Expected = ("bounced", "Transient", "MessageTooLarge", False, "")
CONTENT: Expected = ("bounced", "Transient", "ContentRejected", False, "")
ATTACHMENT: Expected = ("bounced", "Transient", "AttachmentRejected", False, "")
UNDETERMINED: Expected = ("bounced", "Undetermined", "Undetermined", False, "")


def defer(delay: str) -> Expected:
    return ("deferred", "", "", False, delay)


NETWORK = defer("TransientCommunicationFailure")
SERVER = defer("RecipientServerError")

# fmt: off
CORPUS: list[tuple[str, str, Expected]] = [
    # --- Gmail / Google Workspace ---------------------------------------------------------
    ("gmail", "250 2.0.0 OK  1700000000 a1-20020a05600c000000b0040e000000si1234567wmq.123 - gsmtp",
     DELIVERED),
    ("gmail", "550-5.1.1 The email account that you tried to reach does not exist. Please try\n"
     "550-5.1.1 double-checking the recipient's email address for typos or\n"
     "550-5.1.1 unnecessary spaces. Learn more at\n"
     "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si123wmq.1 - gsmtp", NO_EMAIL),
    ("gmail", "552-5.2.2 The email account that you tried to reach is over quota. Please direct\n"
     "552-5.2.2 the recipient to\n"
     "552 5.2.2  https://support.google.com/mail/?p=OverQuotaPerm a1si123wmq.2 - gsmtp", FULL),
    ("gmail", "452-4.2.2 The email account that you tried to reach is over quota. Please direct\n"
     "452 4.2.2 the recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp",
     defer("MailboxFull")),
    ("gmail", "550-5.2.1 The email account that you tried to reach is disabled. Learn more at\n"
     "550 5.2.1  https://support.google.com/mail/?p=DisabledUser a1si123wmq.3 - gsmtp", HARD),
    ("gmail", "552-5.2.3 Your message exceeded Google's message size limits. Please visit\n"
     "552 5.2.3  https://support.google.com/mail/?p=MaxSizeError to view our size guidelines. "
     "- gsmtp", TOO_LARGE),
    ("gmail", "550-5.7.1 [192.0.2.10      12] Our system has detected that this message is\n"
     "550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail,\n"
     "550-5.7.1 this message has been blocked. Please visit\n"
     "550 5.7.1  https://support.google.com/mail/?p=UnsolicitedMessageError - gsmtp", CONTENT),
    ("gmail", "552-5.7.0 This message was blocked because its content presents a potential\n"
     "552-5.7.0 security issue. Please visit\n"
     "552-5.7.0  https://support.google.com/mail/?p=BlockedMessage to review our\n"
     "552 5.7.0 message content and attachment content guidelines. - gsmtp", ATTACHMENT),
    ("gmail", "550-5.7.26 This mail is unauthenticated, which poses a security risk to the\n"
     "550-5.7.26 sender and Gmail users, and has been blocked. The sender must\n"
     "550-5.7.26 authenticate with at least one of SPF or DKIM. For this message,\n"
     "550-5.7.26 DKIM checks did not pass and SPF check for [example.com] did not\n"
     "550-5.7.26 pass with ip: [192.0.2.10]. To best protect our users from spam, the\n"
     "550 5.7.26 message has been blocked. - gsmtp", POLICY),
    ("gmail", "550-5.7.1 Unauthenticated email from example.com is not accepted due to\n"
     "550-5.7.1 domain's DMARC policy. Please contact the administrator of\n"
     "550-5.7.1 example.com domain if this was a legitimate mail. Please visit\n"
     "550-5.7.1  https://support.google.com/mail/answer/2451690 to learn about the\n"
     "550 5.7.1 DMARC initiative. r75si5694561wmf.156 - gsmtp", POLICY),
    ("gmail", "550-5.7.25 [192.0.2.10] The IP address sending this message does not have a\n"
     "550-5.7.25 PTR record setup, or the corresponding forward DNS entry does not\n"
     "550 5.7.25 point to the sending IP. - gsmtp", POLICY),
    ("gmail", "550-5.7.1 [192.0.2.10] The IP you're using to send mail is not authorized to\n"
     "550-5.7.1 send email directly to our servers. Please use the SMTP relay at your\n"
     "550 5.7.1 service provider instead. - gsmtp", POLICY),
    ("gmail", "421-4.7.0 [192.0.2.10      15] Our system has detected an unusual rate of\n"
     "421-4.7.0 unsolicited mail originating from your IP address. To protect our\n"
     "421-4.7.0 users from spam, mail sent from your IP address has been temporarily\n"
     "421 4.7.0 rate limited. - gsmtp", defer("SpamDetected")),
    ("gmail", "421-4.7.28 [192.0.2.10      15] Our system has detected an unusual rate of\n"
     "421 4.7.28 unsolicited mail originating from your DKIM domain [example.com]. - gsmtp",
     defer("SpamDetected")),
    ("gmail", "450-4.2.1 The user you are trying to contact is receiving mail at a rate that\n"
     "450-4.2.1 prevents additional messages from being delivered. Please resend your\n"
     "450 4.2.1 message at a later time. - gsmtp", SERVER),
    ("gmail", "452-4.5.3 Your message has too many recipients. For more information regarding\n"
     "452 4.5.3 Google's sending limits, visit https://support.google.com/mail/?p=TooManyRcpt "
     "- gsmtp", defer("General")),
    ("gmail", "451 4.3.0 Mail server temporarily rejected message. a1si123wmq.4 - gsmtp", SERVER),
    ("gmail", "421 4.7.0 TLS required for RCPT domain, closing connection. - gsmtp", NETWORK),
    # --- Outlook.com / Office 365 / Exchange Online -------------------------------------
    ("outlook", "250 2.6.0 <0100018c00000000-aaaa@email.example.com> [InternalId=12345678901234, "
     "Hostname=DM6PR00MB0000.namprd00.prod.outlook.com] 12345 bytes in 0.123, 96.789 KB/sec "
     "Queued mail for delivery", DELIVERED),
    ("outlook", "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). "
     "[BN1NAM02FT047.eop-nam02.prod.protection.outlook.com]", NO_EMAIL),
    ("outlook", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address "
     "lookup", NO_EMAIL),
    ("outlook", "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) "
     "[DM6NAM12FT012.eop-nam12.prod.protection.outlook.com]", NO_EMAIL),
    ("outlook", "550 5.7.1 Unfortunately, messages from [192.0.2.10] weren't sent. Please contact "
     "your Internet service provider since part of their network is on our block list "
     "(S3150). You can also refer your provider to "
     "http://mail.live.com/mail/troubleshooting.aspx#errors. "
     "[AM5EUR02FT041.eop-EUR02.prod.protection.outlook.com]", POLICY),
    ("outlook", "550 5.7.606 Access denied, banned sending IP [192.0.2.10]. To request removal "
     "from this list please visit https://sender.office.com/ and follow the directions. For "
     "more information please go to http://go.microsoft.com/fwlink/?LinkID=526655 AS(1430)",
     POLICY),
    ("outlook", "550 5.7.509 Access denied, sending domain EXAMPLE.COM does not pass DMARC "
     "verification and has a DMARC policy of reject.", POLICY),
    ("outlook", "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this "
     "IP. For more information please go to http://go.microsoft.com/fwlink/?LinkId=526653 "
     "AS(843)", POLICY),
    ("outlook", "550 5.7.520 Access denied, Your organization does not allow external "
     "forwarding. Please contact your administrator for further assistance. AS(7555)", POLICY),
    ("outlook", "550 5.7.350 Remote server returned message detected as spam -> 554 5.7.1 "
     "Spam message rejected", CONTENT),
    ("outlook", "451 4.7.650 The mail server [192.0.2.10] has been temporarily rate limited due "
     "to IP reputation. For e-mail delivery information, see https://postmaster.live.com "
     "(S775) [BN8NAM12FT054.eop-nam12.prod.protection.outlook.com]", defer("IPFailure")),
    ("outlook", "451 4.7.500 Server busy. Please try again later from [192.0.2.10]. (S77719) "
     "[AM4EUR01FT021.eop-EUR01.prod.protection.outlook.com]", SERVER),
    # --- Exchange Server (on premises) ---------------------------------------------------
    ("exchange", "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found", NO_EMAIL),
    ("exchange", "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException."
     "MapiExceptionShutoffQuotaExceeded; Failed to process message due to a permanent "
     "exception with message Cannot open mailbox", FULL),
    ("exchange", "552 5.3.4 Message size exceeds fixed maximum message size", TOO_LARGE),
    ("exchange", "550 5.7.1 RESOLVER.RST.AuthRequired; authentication required", POLICY),
    ("exchange", "550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication "
     "required; Delivery restriction check failed as sender not authenticated", POLICY),
    ("exchange", "550 5.7.1 Message rejected as spam by Content Filtering.", CONTENT),
    ("exchange", "432 4.3.2 STOREDRV.Deliver; mailbox database thread limit exceeded", SERVER),
    # --- Yahoo / AOL -----------------------------------------------------------------------
    ("yahoo", "250 ok dirdel", DELIVERED),
    ("yahoo", "554 delivery error: dd This user doesn't have a yahoo.com account "
     "(someone@yahoo.com) [0] - mta1010.mail.gq1.yahoo.com", NO_EMAIL),
    ("yahoo", "552 1 Requested mail action aborted, mailbox not found", NO_EMAIL),
    ("yahoo", "554 delivery error: dd someone@yahoo.com is no longer valid. [-20] - "
     "mta1232.mail.ne1.yahoo.com", HARD),
    ("yahoo", "421 4.7.0 [TSS04] Messages from 192.0.2.10 temporarily deferred due to "
     "unexpected volume or user complaints - 4.16.55.1; see "
     "https://postmaster.yahooinc.com/error-codes", defer("SpamDetected")),
    ("yahoo", "553 5.7.2 [TSS09] All messages from 192.0.2.10 will be permanently deferred; "
     "Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes", POLICY),
    ("yahoo", "554 5.7.9 Message not accepted for policy reasons.  See "
     "https://postmaster.yahooinc.com/error-codes", POLICY),
    ("yahoo", "550 5.7.9 This mail has been blocked because the sender is unauthenticated. "
     "Yahoo requires all senders to authenticate with either SPF or DKIM.", POLICY),
    ("yahoo", "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.10, because the "
     "ip is in Spamhaus's list; see http://postmaster.yahoo.com/550-bl23.html", POLICY),
    ("yahoo", "554 Message not allowed - [PH01] Email not accepted for policy reasons. Please "
     "visit https://postmaster.yahooinc.com/error-codes", POLICY),
    ("yahoo", "451 mta1006.mail.bf1.yahoo.com Resources temporarily unavailable. Please try "
     "again later [#4.16.1].", SERVER),
    ("aol", "554 30 Sorry, your message to someone@aol.jp cannot be delivered. This mailbox "
     "is disabled (554.30)", HARD),
    # --- iCloud (Apple) -----------------------------------------------------------------------
    ("icloud", "550 5.1.1 <someone@icloud.com>: user does not exist", NO_EMAIL),
    ("icloud", "550 5.1.1 unknown or illegal alias: someone@icloud.com", NO_EMAIL),
    ("icloud", "552 5.2.2 <someone@icloud.com>: user is over quota", FULL),
    ("icloud", "550 5.1.6 recipient no longer on server: someone@icloud.com", HARD),
    ("icloud", "550 5.7.1 [CS01] Message rejected due to local policy. Please visit "
     "https://support.apple.com/en-us/HT204137", POLICY),
    ("icloud", "554 5.7.1 Your message was rejected due to example.com's DMARC policy. See "
     "https://support.apple.com/en-us/HT204137 for", POLICY),
    ("icloud", "550 5.7.1 Your email was rejected due to having a domain present in the "
     "Spamhaus DBL -- see https://www.spamhaus.org/dbl/", POLICY),
    ("icloud", "554 5.7.1 <someone@icloud.com>: Relay access denied", HARD_KEEP),
    ("icloud", "421 4.7.1 Messages to someone@icloud.com deferred due to excessive volume. Try "
     "again later - https://support.apple.com/en-us/HT204137", SERVER),
    # --- Postfix (+ Dovecot, amavis, policyd-spf, postgrey) ---------------------------------
    ("postfix", "250 2.0.0 Ok: queued as 4Bx9Zt0Q8Dz9sWd", DELIVERED),
    ("postfix", "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in "
     "virtual mailbox table", NO_EMAIL),
    ("postfix", "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in "
     "local recipient table", NO_EMAIL),
    ("postfix", "450 4.1.1 <nobody@example.org>: Recipient address rejected: unverified "
     "address: host mx.example.org[192.0.2.20] said: 550 5.1.1 <nobody@example.org>: User "
     "unknown (in reply to RCPT TO command)", SERVER),
    ("postgrey", "450 4.7.1 <someone@example.org>: Recipient address rejected: Greylisted, see "
     "http://postgrey.schweikert.ch/help/example.org.html", defer("RecipientServerError")),
    ("postfix", "554 5.7.1 Service unavailable; Client host [192.0.2.10] blocked using "
     "zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.10", POLICY),
    ("postfix", "554 5.7.1 <someone@example.org>: Relay access denied", HARD_KEEP),
    ("postfix", "552 5.3.4 Message size exceeds fixed limit", TOO_LARGE),
    ("policyd-spf", "550 5.7.23 <someone@example.org>: Recipient address rejected: Message "
     "rejected due to: SPF fail - not authorized. Please see "
     "http://www.openspf.net/Why?s=mfrom;id=app@example.com;ip=192.0.2.10;r=mx.example.org",
     POLICY),
    ("postfix", "553 5.7.1 <app@example.com>: Sender address rejected: not owned by user bob",
     POLICY),
    ("postfix", "550 5.1.2 <someone@no-such-domain.example>: Recipient address rejected: "
     "Domain not found", HARD),
    ("postfix", "454 4.7.0 TLS not available due to local problem", NETWORK),
    ("postfix", "421 4.4.2 mx.example.org Error: timeout exceeded", NETWORK),
    ("postfix", "452 4.3.1 Insufficient system storage", SERVER),
    ("dovecot", "552 5.2.2 <someone@example.org> Quota exceeded (mailbox for user is full)", FULL),
    ("dovecot", "452 4.2.2 <someone@example.org> Quota exceeded (mailbox for user is full)",
     defer("MailboxFull")),
    ("amavis", "554 5.7.0 Reject, id=12345-01 - spam", CONTENT),
    ("amavis", "554 5.7.0 Reject, id=12345-02 - INFECTED: Eicar-Signature", ATTACHMENT),
    ("amavis", "554 5.7.0 Reject, id=12345-03 - BANNED: .exe,invoice.exe", ATTACHMENT),
    # --- Exim (cPanel) -----------------------------------------------------------------------
    ("exim", "250 OK id=1rAbCd-0001Xy-2Z", DELIVERED),
    ("exim", "550 Unrouteable address", HARD),
    ("exim", "550 No Such User Here", NO_EMAIL),
    ("exim", "550-Verification failed for <app@example.com>\n550-Unrouteable address\n"
     "550 Sender verify failed", POLICY),
    ("exim", "552 Message size exceeds maximum permitted", TOO_LARGE),
    ("exim", "550 rejected because 192.0.2.10 is in a black list at zen.spamhaus.org", POLICY),
    ("exim", "421 Too many concurrent SMTP connections from this IP address; please try again "
     "later.", defer("IPFailure")),
    ("exim", "451 Temporary local problem - please try later", SERVER),
    ("exim", "550 Administrative prohibition", POLICY),
    # --- Sendmail -----------------------------------------------------------------------------
    ("sendmail", "250 2.0.0 3AB1cD2e012345 Message accepted for delivery", DELIVERED),
    ("sendmail", "550 5.1.1 <nobody@example.org>... User unknown", NO_EMAIL),
    ("sendmail", "550 5.7.1 <someone@example.org>... Relaying denied", HARD_KEEP),
    ("sendmail", "552 5.2.2 <someone@example.org>... Mailbox full", FULL),
    ("sendmail", "553 5.1.8 <app@example.com>... Domain of sender address app@example.com "
     "does not exist", POLICY),
    ("sendmail", "452 4.4.5 Insufficient disk space; try again later", SERVER),
    ("sendmail", "451 4.1.8 Domain of sender address app@example.com does not resolve", SERVER),
    # --- qmail / vpopmail -------------------------------------------------------------------
    ("qmail", "250 ok 1700000000 qp 12345", DELIVERED),
    ("qmail", "511 sorry, no mailbox here by that name (#5.1.1)", NO_EMAIL),
    ("qmail", "552 sorry, that message size exceeds my databytes limit (#5.3.4)", TOO_LARGE),
    ("qmail", "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
     HARD_KEEP),
    ("qmail", "553 sorry, your envelope sender has been denied (#5.7.1)", POLICY),
    ("qmail", "451 qq temporary problem (#4.3.0)", SERVER),
    # --- Mimecast --------------------------------------------------------------------------
    ("mimecast", "550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550 "
     "[mJ2ki9yFMz2Dz-2Bx0Xew.us237]", NO_EMAIL),
    ("mimecast", "550 Rejected by header based Anti-Spoofing policy: someone@example.org - "
     "https://community.mimecast.com/docs/DOC-1369#550 [bBvVMzMRPzOZjXbq3iBtlA.uk13]", POLICY),
    ("mimecast", "550 Envelope blocked - User Entry - "
     "https://community.mimecast.com/docs/DOC-1369#550 [6ZxNBDvkOUyLRJJ8gR2VnQ.uk61]", POLICY),
    ("mimecast", "550 SPF Sender Invalid - envelope rejected - "
     "https://community.mimecast.com/docs/DOC-1369#550 [zDD8nEjUMG-6n5VvnHzUbw.us123]", POLICY),
    ("mimecast", "554 Maximum email size exceeded - "
     "https://community.mimecast.com/docs/DOC-1369#554 [TCMjCeRxOEaFbp7QsYPQ8g.us340]",
     TOO_LARGE),
    ("mimecast", "451 Internal resources are temporarily unavailable - "
     "https://community.mimecast.com/docs/DOC-1369#451 [Gw2pVzQqPlm9tkb7TbgDXw.us287]",
     defer("RecipientServerError")),
    ("mimecast", "451 IP temporarily blacklisted - "
     "https://community.mimecast.com/docs/DOC-1369#451", defer("IPFailure")),
    # --- Proofpoint --------------------------------------------------------------------------
    ("proofpoint", "554 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.10", POLICY),
    ("proofpoint", "550 5.7.0 Blocked - see "
     "https://support.proofpoint.com/dnsbl-lookup.cgi?ip=192.0.2.10", POLICY),
    ("proofpoint", "550 5.1.1 User Unknown", NO_EMAIL),
    # --- Naver / Daum-Kakao (Korea) ----------------------------------------------------------
    ("naver", "550 5.1.1 No such user. For more information, go to "
     "https://help.naver.com/alias/mail/newmail10.naver YFIkhhfiSGCl2Nuynp4eNQ - nsmtp",
     NO_EMAIL),
    ("naver", "421 4.3.2 Your IP(192.0.2.10) is filtered and this connection will be closed. "
     "You must register your IP to http://realip.naver.com", defer("IPFailure")),
    ("daum", "550 5.1.1 RUSR 192.0.2.10: No such user: <nobody@hanmail.net>", NO_EMAIL),
    ("daum", "550 5.2.1 RACT 192.0.2.10: Mailbox is inactive: <someone@hanmail.net>", HARD),
    ("daum", "554 5.7.1 DAS51 192.0.2.10: Your mail is blocked automatically by anti-spam "
     "system. (E06)", CONTENT),
    ("daum", "421 4.4.1 CHIC 192.0.2.10: Network is busy.", NETWORK),
    ("yahoo-kr", "554 delivery error: dd This user doesn't have a yahoo.co.kr account "
     "(someone@yahoo.co.kr) [-5] - mta114.mail.krs.yahoo.com", NO_EMAIL),
    # --- Others ------------------------------------------------------------------------------
    ("gmx", "550 Requested action not taken: mailbox unavailable", NO_EMAIL),
    ("gmx", "554-Transaction failed\n554-Reject due to policy restrictions.\n"
     "554 For explanation visit https://postmaster.gmx.net/en/error-messages?ip=192.0.2.10&c=hi",
     POLICY),
    ("mail.ru", "550 Message was not accepted -- invalid mailbox.  Local mailbox "
     "someone@mail.ru is unavailable: user not found", NO_EMAIL),
    ("comcast", "554 resimta-ch2-18v.sys.comcast.net resimta-ch2-18v.sys.comcast.net "
     "192.0.2.10 found on one or more DNSBLs, see "
     "http://postmaster.comcast.net/smtp-error-codes.php#BL000001", POLICY),
    ("zoho", "552 5.2.2 Mailbox size limit exceeded", FULL),
    ("aol", "554 Transaction failed", HARD),
    ("rfc5321", "552 Requested mail action aborted: exceeded storage allocation", FULL),
    ("rfc5321", "251 2.1.5 User not local; will forward to <someone@example.net>", DELIVERED),
    ("rfc5321", "503 5.5.1 Error: need RCPT command", HARD_KEEP),
    ("exchange", "554 5.6.0 STOREDRV.Deliver; Corrupt message content", CONTENT),
    # --- Amazon SES's own refusals (no delivery attempted) -----------------------------------
    ("ses", f"550 5.1.1 {ACCOUNT_SUPPRESSED_TEXT}",
     ("bounced", "Permanent", "OnAccountSuppressionList", False, "")),
    ("ses", f"550 5.1.1 {SUPPRESSED_TEXT}", ("bounced", "Permanent", "Suppressed", False, "")),
    # --- Postroom's transport: network and local failures as replies (relay.py) --------------
    ("transport", "421 4.4.1 Connection refused by mx.example.org[192.0.2.20]:25", NETWORK),
    ("transport", "421 4.4.1 Connection to mx.example.org[192.0.2.20]:25 timed out", NETWORK),
    ("transport", "421 4.4.2 Connection to mx.example.org[192.0.2.20]:25 lost during DATA",
     NETWORK),
    ("transport", "421 4.7.5 TLS handshake with mx.example.org[192.0.2.20]:25 failed: "
     "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", NETWORK),
    ("transport", "421 4.7.4 TLS is required, but was not offered by mx.example.org", NETWORK),
    ("transport", "421 4.7.0 smtp.example.net:587 offers no usable AUTH mechanism (no AUTH)",
     defer("InternalFailure")),
    ("transport", "421 4.3.0 ValueError during DATA with mx.example.org:25: boom",
     defer("InternalFailure")),
    ("transport", "553 5.6.7 SMTPUTF8 is required, but was not offered by mx.example.org",
     CONTENT),
    ("transport", "552 5.3.4 Message size 2000000 exceeds the limit 1000000 of mx.example.org",
     TOO_LARGE),
    # --- Protocol violations ----------------------------------------------------------------
    ("broken", "354 End data with <CR><LF>.<CR><LF>", UNDETERMINED),
]
# fmt: on

REAL_WORLD = [entry for entry in CORPUS if entry[0] not in ("transport", "ses", "broken")]


def _parsed(raw: str) -> tuple[int, str, str]:
    """The wire reply as the transport hands it over: code, enhanced code, one-line text."""
    lines = raw.split("\n")
    code = int(lines[0][:3])
    message = "\n".join(line[4:] if line[3:4] in (" ", "-") else line[3:] for line in lines)
    reply = parse_reply(code, message)
    return reply.code, reply.enhanced, reply.text


def _classified(raw: str) -> Outcome:
    return classify("someone@example.org", *_parsed(raw))


def _summary(outcome: Outcome) -> Expected:
    return (
        outcome.kind,
        outcome.bounce_type,
        outcome.bounce_sub_type,
        outcome.suppress,
        outcome.delay_type,
    )


def test_the_corpus_is_large_and_varied() -> None:
    assert len(REAL_WORLD) >= 60
    assert len({source for source, _, _ in REAL_WORLD}) >= 15
    assert len({raw for _, raw, _ in CORPUS}) == len(CORPUS)  # no duplicates


@pytest.mark.parametrize(
    ("source", "raw", "expected"), CORPUS, ids=[f"{s}:{r[:40]}" for s, r, _ in CORPUS]
)
def test_corpus_reply_is_classified_as_ses_does(source: str, raw: str, expected: Expected) -> None:
    outcome = _classified(raw)
    assert _summary(outcome) == expected, f"{source}: rule {outcome.rule!r}"
    assert outcome.rule in TABLE.names
    if outcome.kind == "bounced":
        assert outcome.diagnostic == f"smtp; {outcome.reply}"
    if outcome.policy:
        assert not outcome.suppress


def test_every_rule_is_exercised_by_the_corpus() -> None:
    used = {_classified(raw).rule for _, raw, _ in CORPUS}
    assert set(TABLE.names) - used == set()


@pytest.mark.parametrize("code", [200, 220, 250, 251, 252, 299])
def test_2xx_is_delivered(code: int) -> None:
    outcome = classify("a@example.org", code, "", "whatever the text says: spam, user unknown")
    assert (outcome.kind, outcome.rule, outcome.bounce_type) == ("delivered", "accepted", "")


def test_reply_classes_decide_the_kind_whatever_the_text() -> None:
    texts = [_parsed(raw)[2] for _, raw, _ in CORPUS]
    for code in (421, 450, 451, 452, 454, 550, 551, 552, 553, 554):
        for text in texts:
            outcome = classify("a@example.org", code, "", text)
            if code < 500:
                assert outcome.kind == "deferred" and outcome.delay_type, (code, text)
            else:
                assert outcome.kind == "bounced" and outcome.bounce_type, (code, text)
            assert not (outcome.policy and outcome.suppress)


def test_greylisting_expires_as_a_transient_general_bounce() -> None:
    deferred = classify("a@example.org", 451, "4.7.1", "Greylisted, try later")
    assert (deferred.kind, deferred.rule, deferred.status) == ("deferred", "greylisted", "4.7.1")
    bounced = expired(deferred)
    assert (bounced.kind, bounced.bounce_type, bounced.bounce_sub_type) == (
        "bounced", "Transient", "General",
    )  # fmt: skip
    assert bounced.diagnostic == "smtp; 451 4.7.1 Greylisted, try later"
    assert not bounced.suppress and bounced.rule == "greylisted"


def test_a_full_mailbox_expires_as_transient_mailbox_full() -> None:
    bounced = expired(classify("a@example.org", 452, "4.2.2", "Mailbox full"))
    assert (bounced.bounce_type, bounced.bounce_sub_type) == ("Transient", "MailboxFull")


def test_expiring_a_hand_built_deferral_is_transient_general() -> None:
    bounced = expired(Outcome("a@example.org", "deferred", 450, "", "later"))
    assert (bounced.bounce_type, bounced.bounce_sub_type, bounced.rule) == (
        "Transient", "General", "",
    )  # fmt: skip


def test_delay_type_helper() -> None:
    assert delay_type(classify("a@example.org", 421, "4.4.1", "Connection refused")) == (
        "TransientCommunicationFailure"
    )
    # Outcomes built without classify (older code, the simulator) are classified on demand.
    assert delay_type(Outcome("a@example.org", "deferred", 452, "4.2.2", "full")) == "MailboxFull"
    assert delay_type(Outcome("a@example.org", "deferred", 550, "", "odd")) == "Undetermined"
    assert delay_type(classify("a@example.org", 550, "5.1.1", "no such user")) == ""
    assert delay_type(classify("a@example.org", 250, "2.0.0", "ok")) == ""


def test_status_falls_back_to_an_embedded_code_then_the_class() -> None:
    assert _classified("511 sorry, no mailbox here by that name (#5.1.1)").status == "5.1.1"
    assert classify("a@example.org", 451, "", "Try again later").status == "4.0.0"
    # A status of another class, or Yahoo's internal "[#4.16.1]", is not a status.
    assert classify("a@example.org", 550, "", "odd (#4.2.2)").status == "5.0.0"
    assert _classified("451 mta1 Resources temporarily unavailable [#4.16.1].").status == "4.0.0"
    assert _classified("354 End data with <CR><LF>.<CR><LF>").status == "5.0.0"


def test_the_transport_rcpt_rejection_stays_a_permanent_bounce_with_its_status() -> None:
    outcome = classify("nobody@example.org", 550, "5.1.1", "No such user")
    assert (outcome.bounce_type, outcome.status, outcome.suppress) == ("Permanent", "5.1.1", True)
    assert "550 5.1.1 No such user" in outcome.diagnostic


def test_positional_construction_still_works() -> None:
    outcome = Outcome("a@x", "bounced", 550, "5.1.1", "user unknown", "Permanent", "General", "d")
    assert (outcome.rule, outcome.suppress, outcome.delay_type, outcome.policy) == (
        "", False, "", False,
    )  # fmt: skip


def test_account_suppressed_outcome() -> None:
    outcome = account_suppressed("gone@example.org")
    assert (outcome.kind, outcome.bounce_type, outcome.bounce_sub_type) == (
        "bounced", "Permanent", "OnAccountSuppressionList",
    )  # fmt: skip
    assert outcome.diagnostic == ACCOUNT_SUPPRESSED_TEXT and not outcome.suppress
    assert outcome.rule == "account-suppression-list"


def test_the_packaged_table_is_valid_and_documented() -> None:
    table = bounce_table.load_default()
    assert table.names == TABLE.names
    assert all(rule.note for rule in table.rules)


# --- validation ----------------------------------------------------------------------------

FULL_TABLE: list[dict[str, Any]] = [
    {"name": "ok", "match": {"code": "2xx"}, "result": {"kind": "delivered"}},
    {"name": "later", "match": {"code": "4xx"},
     "result": {"kind": "deferred", "delay_type": "General"}},
    {"name": "full", "match": {"code": "5xx", "enhanced": "5.2.2"},
     "result": {"kind": "bounced", "bounce_type": "Transient", "bounce_sub_type": "MailboxFull",
                "suppress": False}},
    {"name": "hard", "match": {"code": "5xx"},
     "result": {"kind": "bounced", "bounce_type": "Permanent", "bounce_sub_type": "General",
                "suppress": True}},
    {"name": "rest", "match": {},
     "result": {"kind": "bounced", "bounce_type": "Undetermined",
                "bounce_sub_type": "Undetermined", "suppress": False}},
]  # fmt: skip


def _table(**changes: Any) -> list[dict[str, Any]]:
    """FULL_TABLE with changes: `rule_2={...}` replaces rule 2's keys (None deletes one),
    `insert={...}` adds a rule before the catch-alls."""
    rules = json.loads(json.dumps(FULL_TABLE))
    for key, value in changes.items():
        if key == "insert":
            rules.insert(2, value)
            continue
        rule = rules[int(key.split("_")[1])]
        for field, new in value.items():
            if new is None:
                del rule[field]
            else:
                rule[field] = new
    return rules


def _result(**fields: Any) -> dict[str, Any]:
    base = {"kind": "bounced", "bounce_type": "Permanent", "bounce_sub_type": "General",
            "suppress": True}  # fmt: skip
    base.update(fields)
    return {key: value for key, value in base.items() if value is not None}


def test_a_minimal_table_is_valid() -> None:
    table = bounce_table.parse(_table())
    assert table.first_match(552, "5.2.2", "full").name == "full"
    assert table.first_match(302, "", "").name == "rest"


# fmt: off
@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"rules": FULL_TABLE}, "non-empty list"),
        ([], "non-empty list"),
        (_table(rule_2={"why": "x"}), "unknown key(s) ['why']"),
        (_table(rule_2={"result": None}), "missing key(s) ['result']"),
        (_table(rule_2={"name": "Mailbox Full"}), "name must be"),
        (_table(rule_2={"name": "hard"}), "duplicate name 'hard'"),
        (_table(rule_2={"note": 3}), "note must be a string"),
        (_table(rule_2={"match": {"code": "5xx", "status": "5.2.2"}}), "unknown key(s) ['status']"),
        (_table(rule_2={"match": {"code": "5XX"}}), "is not a pattern"),
        (_table(rule_2={"match": {"code": "55"}}), "is not a pattern"),
        (_table(rule_2={"match": {"code": []}}), "is not a pattern"),
        (_table(rule_2={"match": {"code": "5xx", "enhanced": "5.2"}}), "is not a pattern"),
        (_table(rule_2={"match": {"code": "5xx", "enhanced": "5.2.x"}}), "is not a pattern"),
        (_table(rule_2={"match": {"code": "5xx", "text": "(unclosed"}}), "bad regular expression"),
        (_table(rule_2={"match": {"code": "5xx", "text": ""}}), "non-empty regular expression"),
        (_table(rule_2={"match": {"text": "full"}}), "pin the reply class"),
        (_table(rule_2={"match": {"code": "5xx", "enhanced": "4.2.2"}}), "mix reply classes"),
        (_table(rule_2={"match": {"code": ["4xx", "5xx"]}}), "mix reply classes"),
        (_table(rule_2={"match": {"code": "4xx", "text": "full"}}), "is deferred, not bounced"),
        (_table(rule_2={"result": _result(kind="failed")}), "kind must be one of"),
        (_table(rule_2={"result": _result(bounce_type="Hard")}), "bounce_type must be one of"),
        (_table(rule_2={"result": _result(bounce_sub_type="MailboxFull")}),
         "bounce_sub_type of a Permanent bounce"),
        (_table(rule_2={"result": _result(suppress="yes")}), "suppress must be true or false"),
        (_table(rule_2={"result": _result(suppress=None)}), "missing key(s) ['suppress']"),
        (_table(rule_2={"result": _result(delay_type="General")}), "unknown key(s) ['delay_type']"),
        (_table(rule_2={"result": _result(policy=True)}), "policy block must not suppress"),
        (_table(rule_0={"result": {"kind": "delivered", "suppress": False}}),
         "unknown key(s) ['suppress']"),
        (_table(rule_1={"result": {"kind": "deferred"}}), "missing key(s) ['delay_type']"),
        (_table(rule_1={"result": {"kind": "deferred", "delay_type": "Slow"}}),
         "delay_type must be one of"),
        (_table(rule_1={"result": {"kind": "deferred", "delay_type": "General",
                                   "bounce_type": "Permanent", "bounce_sub_type": "General"}}),
         "only expire as a Transient bounce"),
        (_table(rule_1={"result": {"kind": "deferred", "delay_type": "General",
                                   "suppress": False}}), "unknown key(s) ['suppress']"),
        (_table(rule_4={"match": {"code": "5xx"}}), "last rule must have an empty match"),
        (_table(insert={"name": "any", "match": {}, "result": _result()}),
         "only the last rule may have an empty match"),
        (_table(rule_3={"match": {"code": "5xx", "text": "x"}}), "no catch-all rule for ['5xx']"),
        (_table(insert={"name": "early", "match": {"code": "5xx"}, "result": _result()}),
         "'full' is unreachable after 'early'"),
    ],
)
# fmt: on
def test_table_validation_errors(table: Any, message: str) -> None:
    with pytest.raises(BounceTableError) as raised:
        bounce_table.parse(table, "test.json")
    assert message in str(raised.value)
    assert str(raised.value).startswith("test.json")


def test_loading_rejects_bad_json_and_duplicate_keys(tmp_path: Path) -> None:
    with pytest.raises(BounceTableError, match="Expecting"):
        bounce_table.loads("[{", "bad.json")
    duplicated = '[{"name": "a", "name": "b", "match": {}, "result": {"kind": "delivered"}}]'
    with pytest.raises(BounceTableError, match=r"duplicate key\(s\) \['name'\]"):
        bounce_table.loads(duplicated, "dup.json")
    broken = tmp_path / "bounce_rules.json"
    broken.write_text(json.dumps(_table(rule_2={"extra": 1})), encoding="utf-8")
    with pytest.raises(BounceTableError, match=r"unknown key\(s\) \['extra'\]"):
        bounce_table.load_default(broken)  # what the import of outcomes does with the file
