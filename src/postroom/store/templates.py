"""SQL for email templates (issue 9, section 3): one table for SES v1 and v2, per account
and region. Rendering is the domain's (`domain/templates.py`); this module stores text."""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from postroom.domain.templates import EmailTemplate
from postroom.store.schema import templates


def _where(account_id: str, region: str, name: str) -> list[ColumnElement[bool]]:
    return [
        templates.c.account_id == account_id,
        templates.c.region == region,
        templates.c.name == name,
    ]


def get(
    conn: Connection, account_id: str, region: str, name: str
) -> tuple[EmailTemplate, float] | None:
    """The template and its creation time, or None."""
    row = conn.execute(select(templates).where(*_where(account_id, region, name))).first()
    if row is None:
        return None
    return EmailTemplate(row.name, row.subject, row.text, row.html), float(row.created_at)


def insert(
    conn: Connection, account_id: str, region: str, template: EmailTemplate, now: float
) -> bool:
    """Store a new template; False if the name is taken (also when another node just took
    it: the savepoint keeps the transaction usable on PostgreSQL)."""
    if get(conn, account_id, region, template.name) is not None:
        return False
    values = {"account_id": account_id, "region": region, "name": template.name,
              "subject": template.subject, "text": template.text, "html": template.html,
              "created_at": now, "updated_at": now}  # fmt: skip
    try:
        with conn.begin_nested():
            conn.execute(templates.insert().values(**values))
    except IntegrityError:
        return False
    return True


def replace(
    conn: Connection, account_id: str, region: str, template: EmailTemplate, now: float
) -> bool:
    """Replace the parts of an existing template; False if there is none."""
    result = conn.execute(
        update(templates)
        .where(*_where(account_id, region, template.name))
        .values(subject=template.subject, text=template.text, html=template.html, updated_at=now)
    )
    return bool(result.rowcount)


def remove(conn: Connection, account_id: str, region: str, name: str) -> bool:
    result = conn.execute(delete(templates).where(*_where(account_id, region, name)))
    return bool(result.rowcount)


def count(conn: Connection, account_id: str, region: str) -> int:
    query = select(func.count()).select_from(templates).where(
        templates.c.account_id == account_id, templates.c.region == region
    )
    return int(conn.execute(query).scalar_one())


def list_after(
    conn: Connection, account_id: str, region: str, after: str | None, limit: int
) -> list[tuple[str, float]]:
    """(name, created_at) in name order, starting after `after`, at most `limit`."""
    query = select(templates.c.name, templates.c.created_at).where(
        templates.c.account_id == account_id, templates.c.region == region
    )
    if after is not None:
        query = query.where(templates.c.name > after)
    rows = conn.execute(query.order_by(templates.c.name).limit(limit))
    return [(row.name, float(row.created_at)) for row in rows]
