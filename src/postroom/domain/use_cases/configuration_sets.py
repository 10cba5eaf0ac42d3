"""Configuration sets (issue 10, part 1): create, read, change, delete, list, and each
identity's default set. SES v1 and v2 are two views of this one state, per account and
region; the rules and the value are in `domain/configuration_sets.py`, the sending side in
`domain/admission.py`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from postroom.domain import configuration_sets as sets
from postroom.domain.callers import Caller, authorize
from postroom.domain.configuration_sets import ConfigurationSet
from postroom.domain.core import Core
from postroom.domain.ports import Tx
from postroom.domain.use_cases import tags as resource_tags
from postroom.domain.use_cases.identities import identity_name
from postroom.errors import ClientError, InvalidParameterValue, NotFound

DEFAULT_PAGE = 1000  # SES v1 ListConfigurationSets answers up to 1,000 without MaxItems
MAX_PAGE = 1000


@dataclass(frozen=True)
class StoredSet:
    found: ConfigurationSet
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SetPage:
    names: list[str]
    next_token: str | None = None


def _arn(caller: Caller, name: str) -> str:
    return resource_tags.resource_arn(caller, "configuration-set", name)


def _find(core: Core, conn: Tx, account_id: str, region: str, name: str) -> str | None:
    if not sets.valid_name(name):
        return None
    return name if core.repos.configuration_sets.get(conn, account_id, region, name) else None


resource_tags.register_resource("configuration-set", _find)


async def create_configuration_set(
    core: Core, caller: Caller, wanted: ConfigurationSet, tags: Sequence[tuple[str, str]] = ()
) -> None:
    """`wanted.created_at` is replaced by now; `tags` (v2) become the set's resource tags."""
    authorize(caller, "create_configuration_set")
    sets.check_name(wanted.name)
    _check_options(wanted)
    checked = resource_tags.check_tags(tags)
    new = dataclasses.replace(wanted, created_at=core.now())
    repo, where = core.repos.configuration_sets, (caller.account_id, caller.region)

    def save(conn: Tx) -> None:
        if repo.count(conn, *where) >= sets.MAX_CONFIGURATION_SETS:
            raise sets.limit_exceeded()
        if not repo.insert(conn, *where, new):
            raise sets.already_exists(new.name)
        if checked:
            resource_tags.add_tags(core, conn, caller.account_id, _arn(caller, new.name), checked)

    await core.uow.write(save)


def _check_options(found: ConfigurationSet) -> None:
    sets.check_tls_policy(found.tls_policy)
    sets.check_sending_pool(found.sending_pool)
    sets.check_delivery_seconds(found.max_delivery_seconds)
    if found.suppressed_reasons is not None:
        sets.check_reasons(sorted(found.suppressed_reasons))
    if found.tracking_domain:
        sets.check_redirect_domain(found.tracking_domain)
    if found.https_policy is not None and found.https_policy not in sets.HTTPS_POLICIES:
        raise InvalidParameterValue(f"Invalid HttpsPolicy: {sets.shown(found.https_policy)}.")


async def get_configuration_set(core: Core, caller: Caller, name: str) -> StoredSet:
    """The set and its tags; ConfigurationSetDoesNotExist (v2 404) otherwise."""
    authorize(caller, "get_configuration_set")
    where, arn = (caller.account_id, caller.region), _arn(caller, name)

    def read(conn: Tx) -> StoredSet:
        found = _load(core, conn, caller, name)
        return StoredSet(found, core.repos.tags.tags_of(conn, *where[:1], arn))

    return await core.uow.read(read)


def _load(core: Core, conn: Tx, caller: Caller, name: str) -> ConfigurationSet:
    found = None
    if sets.valid_name(name):
        found = core.repos.configuration_sets.get(conn, caller.account_id, caller.region, name)
    if found is None:
        raise sets.does_not_exist(name)
    return found


Change = Callable[[ConfigurationSet], ConfigurationSet]


async def change_configuration_set(
    core: Core, caller: Caller, name: str, change: Change, action: str
) -> None:
    """Apply `change` to the set (one transaction); the options it gives are checked.
    `change` may raise (v1's tracking options that exist already or not yet)."""
    authorize(caller, action)

    def save(conn: Tx) -> None:
        changed = change(_load(core, conn, caller, name))
        _check_options(changed)
        core.repos.configuration_sets.replace(conn, caller.account_id, caller.region, changed)

    await core.uow.write(save)


async def delete_configuration_set(core: Core, caller: Caller, name: str) -> None:
    """Identities that name it as their default keep the name: their sends then fail, as
    on SES ("your call to Amazon SES fails"), until the default is changed."""
    authorize(caller, "delete_configuration_set")
    where = (caller.account_id, caller.region)

    def remove(conn: Tx) -> None:
        if not sets.valid_name(name) or not core.repos.configuration_sets.remove(
            conn, *where, name
        ):
            raise sets.does_not_exist(name)
        core.repos.tags.remove_all(conn, caller.account_id, _arn(caller, name))

    await core.uow.write(remove)


async def list_configuration_sets(
    core: Core, caller: Caller, page_size: int | None, next_token: str | None
) -> SetPage:
    """By name; page size 1..1000 (none is 1000)."""
    authorize(caller, "list_configuration_sets")
    if page_size is not None and page_size < 1:
        raise InvalidParameterValue("The page size must be at least 1.")
    size = min(page_size or DEFAULT_PAGE, MAX_PAGE)
    after = _decode_token(next_token) if next_token else None
    where = (caller.account_id, caller.region)
    names = await core.uow.read(
        lambda conn: core.repos.configuration_sets.list_after(conn, *where, after, size + 1)
    )
    more = len(names) > size
    names = names[:size]
    return SetPage(names, _encode_token(names[-1]) if more else None)


def _encode_token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _decode_token(token: str) -> str:
    try:
        name = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")
    except (ValueError, UnicodeError, binascii.Error):
        name = ""
    if not sets.valid_name(name):
        raise InvalidParameterValue("Invalid NextToken.")
    return name


async def set_identity_configuration_set(
    core: Core, caller: Caller, identity: str, name: str | None
) -> None:
    """v2 PutEmailIdentityConfigurationSetAttributes: the identity's default set (None or
    empty: none). NotFound for an unknown identity or set."""
    authorize(caller, "put_email_identity_configuration_set_attributes")
    canonical = identity_name(identity)
    where = (caller.account_id, caller.region)

    def save(conn: Tx) -> None:
        if core.repos.identities.get(conn, *where, canonical) is None:
            raise NotFound(f"Email identity {sets.shown(identity)} does not exist.")
        if name:
            _load(core, conn, caller, name)
        core.repos.identities.set_configuration_set(conn, *where, canonical, name or None)

    await core.uow.write(save)


# -- v1's tracking options: they exist or not, as their own resource ---------------------
def add_tracking(domain: str | None) -> Change:
    def change(found: ConfigurationSet) -> ConfigurationSet:
        if found.tracking_domain is not None:
            raise ClientError(
                f"Tracking options already exist for configuration set <{found.name}>.",
                code="TrackingOptionsAlreadyExistsException",
            )
        return dataclasses.replace(found, tracking_domain=domain or "")

    return change


def update_tracking(domain: str | None, *, must_exist: bool = True) -> Change:
    def change(found: ConfigurationSet) -> ConfigurationSet:
        if must_exist and found.tracking_domain is None:
            raise _no_tracking(found.name)
        return dataclasses.replace(found, tracking_domain=domain or "")

    return change


def remove_tracking(found: ConfigurationSet) -> ConfigurationSet:
    if found.tracking_domain is None:
        raise _no_tracking(found.name)
    return dataclasses.replace(found, tracking_domain=None, https_policy=None)


def _no_tracking(name: str) -> ClientError:
    return ClientError(
        f"Tracking options do not exist for configuration set <{name}>.",
        code="TrackingOptionsDoesNotExistException",
    )
