"""SQL for resource tags (SES v2 TagResource): per account, by the resource's ARN."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from postroom.store.schema import resource_tags


def tags_of(conn: Connection, account_id: str, arn: str) -> dict[str, str]:
    rows = conn.execute(
        select(resource_tags.c.key, resource_tags.c.value)
        .where(resource_tags.c.account_id == account_id, resource_tags.c.resource_arn == arn)
        .order_by(resource_tags.c.key)
    )
    return {row.key: row.value for row in rows}


def put_tags(conn: Connection, account_id: str, arn: str, tags: Mapping[str, str]) -> None:
    """Add the tags; a key already there takes the new value."""
    if not tags:
        return
    remove_tags(conn, account_id, arn, tags)
    conn.execute(
        insert(resource_tags),
        [
            {"account_id": account_id, "resource_arn": arn, "key": key, "value": value}
            for key, value in tags.items()
        ],
    )


def remove_tags(conn: Connection, account_id: str, arn: str, keys: Iterable[str]) -> None:
    wanted = list(keys)
    if not wanted:
        return
    conn.execute(
        delete(resource_tags).where(
            resource_tags.c.account_id == account_id,
            resource_tags.c.resource_arn == arn,
            resource_tags.c.key.in_(wanted),
        )
    )


def remove_all(conn: Connection, account_id: str, arn: str) -> None:
    """Every tag of a resource (the resource was deleted)."""
    conn.execute(
        delete(resource_tags).where(
            resource_tags.c.account_id == account_id, resource_tags.c.resource_arn == arn
        )
    )
