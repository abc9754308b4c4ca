"""The chunk path's statements, as plain parameterized SQL.

UploadFileChunk runs the same few statements for every chunk, and the ORM
would compile each of them again every time (a good part of a millisecond of
CPU per chunk). Here each statement is a constant SQL string built from the
models' documented metadata (``_meta.db_table``, ``Field.column``) and run
through ``connection.cursor()`` with parameters; values go through the fields'
documented ``get_db_prep_value``/``get_db_prep_save``, so the database stores
exactly what ``save()`` would. Only this app's own columns are read back
(numbers, text, bytes and the ticket's date-times), and instances are built
with the documented ``Model.from_db``; fields not read stay deferred and load
on first access, as with ``only()``. Of the one foreign model, the user,
only the fields every call reads are loaded (see :func:`ticket_with_user`).

The SQL is standard. ``RETURNING`` is used where the database has it
(PostgreSQL, SQLite 3.35+); elsewhere the engine's ORM path does the same
work. Model signals (``pre_save``/``post_save``) are not sent for these rows:
the app sends its own (:mod:`chunked_upload.signals`).
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models import Model
from django.utils import timezone

from ..models import Chunk, Ticket, UploadHandler

M = TypeVar("M", bound=Model)

#: What a lease grant reads back: enough to append, answer and announce.
LEASED_FIELDS = ("state", "committed_size", "chunk_count", "crc32", "sha256_state",
                 "lease_generation", "chunk_size")


def ticket_with_user(key_hash: str, using: str) -> Ticket | None:
    """The ticket stored as ``key_hash`` with its user, in one statement; None if none.

    Of the user, what every call reads is loaded: its primary key, whether
    it is active, and its password (what a ticket's credential check digests,
    as Django's sessions do); each value converted by its field's documented
    ``to_python``. The user's other fields are deferred and load on first
    access, as with ``only()``.
    """
    connection = connections[using]
    user_model = get_user_model()
    user_names = _user_fields(user_model)
    with connection.cursor() as cursor:
        cursor.execute(_sql("ticket", using), [key_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    ticket_row, user_row = row[:len(TICKET_FIELDS)], row[len(TICKET_FIELDS):]
    user = _from_db(user_model, using, {
        field.attname: field.to_python(value) for field, value in zip(
            (user_model._meta.get_field(name) for name in user_names), user_row, strict=True)
    })
    values = dict(zip(TICKET_FIELDS, ticket_row, strict=True))
    for name in ("created_at", "last_used_at", "expires_at", "revoked_at"):
        values[name] = _datetime(values[name], connection)
    ticket = _from_db(Ticket, using, {**values, "key_hash": key_hash, "user_id": user.pk})
    ticket.user = user  # the joined row: no second query
    return ticket


#: What a ticket check reads of the ticket.
TICKET_FIELDS = ("id", "created_at", "last_used_at", "expires_at", "revoked_at", "auth_hash")


@functools.lru_cache(maxsize=8)
def _user_fields(user_model: type[Model]) -> tuple[str, ...]:
    """The user's primary key, and its ``is_active`` and ``password`` where they are
    columns of its own table (a user model may make either a property, or inherit
    them from a parent table: then they load on access)."""
    local = {field.name for field in user_model._meta.local_concrete_fields}
    wanted = [name for name in ("is_active", "password") if name in local]
    return (user_model._meta.pk.name, *wanted)


def _ticket_sql(connection: Any) -> str:
    quote = connection.ops.quote_name
    user_model = get_user_model()
    user_key = Ticket._meta.get_field("user").target_field
    columns = [f"t.{_column(Ticket, name, connection)}" for name in TICKET_FIELDS]
    columns += [f"u.{_column(user_model, name, connection)}" for name in _user_fields(user_model)]
    return (
        f"SELECT {', '.join(columns)} "
        f"FROM {quote(Ticket._meta.db_table)} t "
        f"INNER JOIN {quote(user_model._meta.db_table)} u "
        f"ON u.{quote(user_key.column)} = t.{_column(Ticket, 'user', connection)} "
        f"WHERE t.{_column(Ticket, 'key_hash', connection)} = %s"
    )


def _datetime(value: object, connection: Any) -> datetime | None:
    """A date-time column read without the ORM, as the ORM would give it.

    Drivers hand back a datetime (SQLite's naive, in the connection's time
    zone) or, for some, its ISO text.
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if settings.USE_TZ and timezone.is_naive(value):
        value = timezone.make_aware(value, connection.timezone)
    return value


@functools.cache
def has_returning(using: str) -> bool:
    """Does this database answer ``INSERT``/``UPDATE … RETURNING``?"""
    connection = connections[using]
    if connection.vendor == "postgresql":
        return True
    return connection.vendor == "sqlite" and connection.Database.sqlite_version_info >= (3, 35)


@functools.lru_cache(maxsize=64)
def _sql(kind: str, using: str, *shape: object) -> str:
    """The SQL of one statement shape, built once per database alias.

    Only names go in (quoted as the database quotes them); values are always
    parameters.
    """
    return _BUILDERS[kind](connections[using], *shape)


def _column(model: type[Model], name: str, connection: Any) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _value(model: type[Model], name: str, value: object, connection: Any) -> object:
    return model._meta.get_field(name).get_db_prep_save(value, connection)


def _from_db(model: type[M], using: str, values: dict[str, object]) -> M:
    """An instance loaded with ``values`` (by attname); the other fields deferred."""
    names = _in_field_order(model, frozenset(values))
    return model.from_db(using, names, [values[name] for name in names])


@functools.lru_cache(maxsize=64)
def _in_field_order(model: type[Model], attnames: frozenset[str]) -> tuple[str, ...]:
    # from_db takes the values in the model's field order; the same few
    # shapes load on every chunk, so the order is worked out once per shape.
    return tuple(field.attname for field in model._meta.concrete_fields
                 if field.attname in attnames)


def _lease_sql(connection: Any, scope_field: str) -> str:
    H = UploadHandler  # noqa: N806 (a model, as in a query)
    col = {name: _column(H, name, connection) for name in (
        "id", "state", "lease_generation", "lease_expires_at", "last_activity_at", "created_at",
        scope_field, *LEASED_FIELDS)}
    return (
        f"UPDATE {connection.ops.quote_name(H._meta.db_table)} SET {col['lease_generation']} = "
        f"{col['lease_generation']} + 1, {col['lease_expires_at']} = %s "
        f"WHERE {col['id']} = %s AND {col[scope_field]} = %s AND {col['state']} IN (%s, %s) "
        f"AND ({col['lease_expires_at']} IS NULL OR {col['lease_expires_at']} <= %s) "
        f"AND {col['last_activity_at']} > %s AND {col['created_at']} > %s "
        f"RETURNING {', '.join(col[name] for name in LEASED_FIELDS)}"
    )


def take_lease(handler_id: uuid.UUID, scope: tuple[str, object], *, now: datetime,
               until: datetime, idle_since: datetime, born_since: datetime,
               using: str) -> UploadHandler | None:
    """Lease a live, unleased handler in one statement; None if it is not one.

    ``scope`` is the ``(field, value)`` that ties the handler to the caller
    (its ticket or its owner). The handler must be open or complete, not
    leased (or its lease run out by ``now``), and inside its lifetime (last
    active after ``idle_since``, created after ``born_since``).
    """
    connection = connections[using]
    H = UploadHandler  # noqa: N806 (a model, as in a query)
    sql = _sql("lease", using, scope[0])
    params = [
        _value(H, "lease_expires_at", until, connection),
        _value(H, "id", handler_id, connection),
        _value(H, scope[0], scope[1], connection),
        *H.LIVE_STATES,
        _value(H, "lease_expires_at", now, connection),
        _value(H, "last_activity_at", idle_since, connection),
        _value(H, "created_at", born_since, connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    values = dict(zip(LEASED_FIELDS, row, strict=True))
    values["sha256_state"] = bytes(values["sha256_state"])  # memoryview on PostgreSQL
    values["id"], values[scope[0]] = handler_id, scope[1]
    return _from_db(H, using, values)


def _insert_sql(connection: Any, *names: str) -> str:
    return (
        f"INSERT INTO {connection.ops.quote_name(Chunk._meta.db_table)} "
        f"({', '.join(_column(Chunk, name, connection) for name in names)}) "
        f"VALUES ({', '.join(['%s'] * len(names))}) "
        f"RETURNING {_column(Chunk, 'id', connection)}"
    )


def insert_chunk(handler_id: uuid.UUID, index: int, offset: int, length: int, crc: int,
                 received_at: datetime, using: str) -> Chunk:
    """INSERT one ledger row; the row as a saved ``Chunk``."""
    fields = {"handler_id": handler_id, "index": index, "offset": offset, "length": length,
              "crc32": crc, "received_at": received_at}
    if not has_returning(using):
        return Chunk.objects.using(using).create(**fields)
    connection = connections[using]
    sql = _sql("insert", using, *fields)
    params = [_value(Chunk, name, value, connection) for name, value in fields.items()]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        pk = cursor.fetchone()[0]
    return _from_db(Chunk, using, {"id": pk, **fields})


def _update_sql(connection: Any, with_state: bool, *names: str) -> str:
    """``UPDATE … SET <names> WHERE id = … AND lease_generation = … [AND state = …]``."""
    H = UploadHandler  # noqa: N806 (a model, as in a query)
    assignments = ", ".join(f"{_column(H, name, connection)} = %s" for name in names)
    sql = (f"UPDATE {connection.ops.quote_name(H._meta.db_table)} SET {assignments} "
           f"WHERE {_column(H, 'id', connection)} = %s "
           f"AND {_column(H, 'lease_generation', connection)} = %s")
    if with_state:
        sql += f" AND {_column(H, 'state', connection)} = %s"
    return sql


def update_leased(handler_id: uuid.UUID, generation: int, values: dict[str, object],
                  using: str, *, state: str | None = None) -> bool:
    """UPDATE the handler's ``values`` if the lease ``generation`` is still its own.

    With ``state``, only while the handler is in that state. False when the
    lease was taken over meanwhile, or the handler changed state or is gone.
    """
    connection = connections[using]
    H = UploadHandler  # noqa: N806 (a model, as in a query)
    sql = _sql("update", using, state is not None, *values)
    params = [_value(H, name, value, connection) for name, value in values.items()]
    params += [_value(H, "id", handler_id, connection), generation]
    if state is not None:
        params.append(state)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount == 1


_BUILDERS = {
    "ticket": _ticket_sql, "lease": _lease_sql, "insert": _insert_sql, "update": _update_sql,
}
