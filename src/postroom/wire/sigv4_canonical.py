"""Canonical URI and query string of SigV4 (ses-spec.md section 3), as botocore builds them.

Pure string functions, shared by verification (`sigv4.canonical_request`) and signing.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote_plus

_PLAIN_PATH = re.compile(r"[A-Za-z0-9/_.~-]*")
# Pairs of unreserved characters with at most one '=' each: already canonical, only sort.
_PLAIN_QUERY = re.compile(r"[\w.~-]*(?:=[\w.~-]*)?(?:&[\w.~-]*(?:=[\w.~-]*)?)*", re.ASCII)


def canonical_uri(path: str) -> str:
    """The raw path percent-encoded a second time, keeping '/' and '~' (section 3).

    Like botocore (utils.remove_dot_segments) we drop '.', '..' and empty segments first.
    """
    if not path:
        return "/"
    if "//" in path or "/." in path:
        segments: list[str] = []
        for seg in path.split("/"):
            if seg == "..":
                if segments:
                    segments.pop()
            elif seg and seg != ".":
                segments.append(seg)
        tail = "/" if path.endswith("/") and segments else ""
        path = ("/" if path.startswith("/") else "") + "/".join(segments) + tail
    if _PLAIN_PATH.fullmatch(path):
        return path
    return quote(path, safe="/~")


def canonical_query(query_string: str, *, presigned: bool = False) -> str:
    """Decode then RFC 3986-encode each key and value, sort by key then value (section 3).

    A presigned request's own X-Amz-Signature is left out, as the signer left it out.
    """
    if not query_string:
        return ""
    if _PLAIN_QUERY.fullmatch(query_string):  # nothing to re-encode (typical SDK output)
        pairs = [_split_pair(p) for p in query_string.split("&") if p]
    else:
        pairs = [(_encode(k), _encode(v)) for k, v in query_pairs(query_string)]
    if presigned:
        pairs = [p for p in pairs if p[0] != "X-Amz-Signature"]
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def _split_pair(pair: str) -> tuple[str, str]:
    key, _, value = pair.partition("=")
    return key, value


def query_pairs(query_string: str) -> list[tuple[str, str]]:
    """Decoded (key, value) pairs. '+' means a space, as AWS (S3's well-known presigned-URL
    gotcha) and our own handlers (parse_qsl) read it; botocore's AWSRequest(params=...) sends
    a space as '+' while signing '%20', and this way those requests verify too."""
    pairs = (_split_pair(pair) for pair in query_string.split("&") if pair)
    return [(unquote_plus(k), unquote_plus(v)) for k, v in pairs]


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")
