"""The attachment file types SES refuses (SES DG "Amazon SES unsupported attachment types"),
checked on every send: the file names of v2 Simple and Template attachments, and the file
names in a raw message's MIME parts (v1 SendRawEmail, v2 Raw content). Pure, no I/O.

A refused name is SES's `MessageRejected`. The text is ours (SES's own wording for this
refusal is not documented); it names the file so the caller can find it.
"""

from __future__ import annotations

import email
import email.policy
import re

from postroom.errors import MessageRejected

BLOCKED = frozenset(
    """
    ade adp app asp bas bat cer chm cmd com cpl crt csh der exe fxp gadget hlp hta inf ins isp
    its js jse ksh lib lnk mad maf mag mam maq mar mas mat mau mav maw mda mdb mde mdt mdw mdz
    msc msh msh1 msh2 mshxml msh1xml msh2xml msi msp mst ops pcd pif plg prf prg reg scf scr sct
    shb shs sys ps1 ps1xml ps2 ps2xml psc1 psc2 tmp url vb vbe vbs vps vsmacros vss vst vsw vxd
    ws wsc wsf wsh xnk
    """.split()  # noqa: SIM905
)

# A raw message is parsed for its parts only when it names a file at all (most don't).
_NAMES_A_FILE = re.compile(rb"(?i)name\*?[0-9]*\*?\s*=")


def check_file_name(name: str) -> None:
    """MessageRejected if `name` ends in an extension SES does not accept."""
    extension = name.strip().strip(". ").rpartition(".")[2].lower()
    if "." in name and extension in BLOCKED:
        raise MessageRejected(
            f"Attachments of type .{extension} are not accepted (file '{name}'); see the SES "
            "list of unsupported attachment types."
        )


def check_raw_attachments(raw: bytes) -> None:
    """Check the file name of every MIME part of a raw message (RFC 2231 and encoded-word
    names decoded by the standard `email` package)."""
    if not _NAMES_A_FILE.search(raw):
        return
    message = email.message_from_bytes(raw, policy=email.policy.default)
    for part in message.walk():
        name = part.get_filename() or part.get_param("name", header="content-type")
        if isinstance(name, str) and name:
            check_file_name(name)
