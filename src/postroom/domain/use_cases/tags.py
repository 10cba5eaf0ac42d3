"""Tags on resources (SES v2 TagResource, UntagResource, ListTagsForResource).

A resource is named by its ARN, `arn:aws:ses:<region>:<account id>:<kind>/<name>`; tags are
kept per account by the ARN in its canonical form (`resource_arn`). Only resources of the
caller's account in the caller's region are visible: another account's ARN, another
region's or a resource that does not exist are all "not found", so an ARN tells a tenant
nothing about other tenants. SES's limits (AWS tagging rules): at most 50 tags on a
resource, keys of 1 to 128 characters, values of 0 to 256, keys unique, `aws:` reserved.

Each kind of resource says how to find one (`RESOURCES`): `identity` and `template` are
here; other modules register theirs with `register_resource` (configuration sets, ...).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from postroom.domain.callers import Caller, authorize
from postroom.domain.core import Core
from postroom.domain.ports import Tx
from postroom.domain.use_cases.identities import identity_name
from postroom.errors import InvalidParameterValue, NotFound

MAX_TAGS = 50
MAX_KEY = 128
MAX_VALUE = 256
MAX_ARN = 512  # resource_tags.resource_arn

# (core, tx, account id, region, name) -> the canonical name, or None when it does not exist
Finder = Callable[[Core, Tx, str, str, str], str | None]


@dataclass(frozen=True)
class ResourceArn:
    region: str
    account_id: str
    kind: str
    name: str

    def __str__(self) -> str:
        return f"arn:aws:ses:{self.region}:{self.account_id}:{self.kind}/{self.name}"


def _find_identity(core: Core, conn: Tx, account_id: str, region: str, name: str) -> str | None:
    try:
        identity = identity_name(name)
    except InvalidParameterValue:
        return None
    found = core.repos.identities.get(conn, account_id, region, identity)
    return found.identity if found is not None else None


def _find_template(core: Core, conn: Tx, account_id: str, region: str, name: str) -> str | None:
    found = core.repos.templates.get(conn, account_id, region, name)
    return name if found is not None else None


RESOURCES: dict[str, Finder] = {"identity": _find_identity, "template": _find_template}


def register_resource(kind: str, finder: Finder) -> None:
    """Make resources of `kind` (`template`, ...) taggable."""
    RESOURCES[kind] = finder


def resource_arn(caller: Caller, kind: str, name: str) -> str:
    return str(ResourceArn(caller.region, caller.account_id, kind, name))


def parse_arn(text: str) -> ResourceArn:
    """BadRequest when it is not an SES resource ARN at all."""
    parts = text.split(":", 5)
    if len(text) > MAX_ARN or len(parts) != 6 or parts[:3] != ["arn", "aws", "ses"]:
        raise InvalidParameterValue(f"Invalid ARN: {_shown(text)}.")
    kind, slash, name = parts[5].partition("/")
    if not slash or not name or not parts[3] or not parts[4]:
        raise InvalidParameterValue(f"Invalid ARN: {_shown(text)}.")
    return ResourceArn(parts[3], parts[4], kind, name)


def _shown(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text[:200])


def check_tags(tags: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The tags as a dict, after SES's rules (BadRequest otherwise)."""
    found: dict[str, str] = {}
    for key, value in tags:
        if not 1 <= len(key) <= MAX_KEY or len(value) > MAX_VALUE:
            raise InvalidParameterValue(
                f"Tag keys must have 1 to {MAX_KEY} characters and values at most {MAX_VALUE}."
            )
        if _has_control(key) or _has_control(value):
            raise InvalidParameterValue("Tag keys and values may not contain control characters.")
        if key.lower().startswith("aws:"):
            raise InvalidParameterValue("Tag keys may not start with aws: (reserved).")
        if key in found:
            raise InvalidParameterValue(f"Duplicate tag key: {key}.")
        found[key] = value
    if len(found) > MAX_TAGS:
        raise InvalidParameterValue(f"A resource can have at most {MAX_TAGS} tags.")
    return found


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in text)


def add_tags(core: Core, conn: Tx, account_id: str, arn: str, tags: Mapping[str, str]) -> None:
    """Merge `tags` into the resource's, keeping the 50-tag limit."""
    current = core.repos.tags.tags_of(conn, account_id, arn)
    if len(current.keys() | tags.keys()) > MAX_TAGS:
        raise InvalidParameterValue(f"A resource can have at most {MAX_TAGS} tags.")
    core.repos.tags.put_tags(conn, account_id, arn, tags)


def _resource(core: Core, conn: Tx, caller: Caller, text: str) -> str:
    """The canonical ARN of one of the caller's resources, or NotFound."""
    arn = parse_arn(text)
    finder = RESOURCES.get(arn.kind)
    name = None
    if finder is not None and (arn.account_id, arn.region) == (caller.account_id, caller.region):
        name = finder(core, conn, caller.account_id, caller.region, arn.name)
    if name is None:
        raise NotFound(f"Resource {_shown(text)} does not exist.")
    return resource_arn(caller, arn.kind, name)


async def tag_resource(
    core: Core, caller: Caller, arn: str, tags: Sequence[tuple[str, str]]
) -> None:
    authorize(caller, "tag_resource")
    wanted = check_tags(tags)
    if not wanted:
        raise InvalidParameterValue("Tags must contain at least one tag.")

    def save(conn: Tx) -> None:
        add_tags(core, conn, caller.account_id, _resource(core, conn, caller, arn), wanted)

    await core.uow.write(save)


async def untag_resource(core: Core, caller: Caller, arn: str, keys: Sequence[str]) -> None:
    authorize(caller, "untag_resource")
    if not keys:
        raise InvalidParameterValue("TagKeys must contain at least one key.")

    def save(conn: Tx) -> None:
        found = _resource(core, conn, caller, arn)
        core.repos.tags.remove_tags(conn, caller.account_id, found, keys)

    await core.uow.write(save)


async def list_tags(core: Core, caller: Caller, arn: str) -> list[tuple[str, str]]:
    authorize(caller, "list_tags_for_resource")

    def read(conn: Tx) -> list[tuple[str, str]]:
        found = _resource(core, conn, caller, arn)
        return list(core.repos.tags.tags_of(conn, caller.account_id, found).items())

    return await core.uow.read(read)
