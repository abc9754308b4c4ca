"""The chunk path's statements, compiled once per connection and replayed.

Compiling a queryset costs Django far more than running its SQL: on the
benchmark machine about 0.5 ms against 50 µs for a primary-key SELECT on
SQLite. UploadFileChunk runs the same few statements for every chunk, so
these helpers build each statement's SQL once per database connection (from
the ORM for SELECTs, from the model's metadata for the one-row INSERT and
UPDATE) and run it again with new parameters. Values still go through the
fields' ``get_db_prep_*`` methods and the backend's converters, so what is
written and read back is exactly what ``save()`` and ``get()`` would give;
only Django's ``pre_save``/``post_save`` model signals are not sent (the app
sends its own, see :mod:`chunked_upload.signals`).

Only the simple shapes the chunk path needs are covered: a SELECT by the exact
value of one unique field, an INSERT of one row, an UPDATE of some fields by
primary key. Backends other than SQLite, PostgreSQL and MySQL get the ORM's
ordinary calls.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DatabaseError, connections
from django.db.models import Model
from django.db.transaction import TransactionManagementError

logger = logging.getLogger("chunked_upload")
M = TypeVar("M", bound=Model)
_VENDORS = frozenset({"sqlite", "postgresql", "mysql"})


@dataclass(frozen=True)
class _Select:
    sql: str
    # The selected expressions that have converters: position, expression, converters.
    converted: tuple[tuple[int, Any, tuple[Any, ...]], ...]
    groups: tuple[tuple[type[Model], str | None, tuple[str, ...]], ...]


def _statements(connection: Any) -> dict[Any, Any]:
    """This connection's compiled statements.

    Kept on the connection object itself: what is compiled holds the backend's
    converters, which are bound to the connection, so a cache outside it
    (even a weak one) would keep every connection ever opened alive.
    """
    try:
        return connection._chunked_upload_statements
    except AttributeError:
        connection._chunked_upload_statements = statements = {}
        return statements


class PreparedGet(Generic[M]):
    """``model.objects.filter(<field>=value)``, at most one row, with forward relations.

    ``related`` names foreign keys whose rows are joined in and attached, as
    ``select_related`` would. ``for_update`` locks the row (and the joined
    ones) like ``select_for_update()``, and likewise needs a transaction.
    ``sample`` is any valid value of the field, used once to check that the
    compiled SQL takes exactly that value as its only parameter.
    """

    def __init__(self, model: type[M], field: str, sample: object, *,
                 related: Iterable[str] = (), for_update: bool = False) -> None:
        self.model, self.field_name, self.sample = model, field, sample
        self.related, self.for_update = tuple(related), for_update

    def get(self, value: object, using: str) -> M | None:
        """The row whose field equals ``value``, or None."""
        connection = connections[using]
        if self.for_update and not connection.in_atomic_block:
            raise TransactionManagementError("select_for_update cannot be used outside of a "
                                             "transaction.")
        compiled = self._compile(connection, using)
        if compiled is None:
            return self._queryset(value, using).first()
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, [_prep(self._field(), value, connection)])
            row = cursor.fetchone()
        if row is None:
            return None
        row = _convert(row, compiled.converted, connection)
        instance, position = None, 0
        for model, name, attnames in compiled.groups:
            values = row[position:position + len(attnames)]
            position += len(attnames)
            obj = model.from_db(using, attnames, values)
            if instance is None:
                instance = obj
            else:
                setattr(instance, name, obj)
        return instance

    def _field(self) -> Any:
        meta = self.model._meta
        return meta.pk if self.field_name == "pk" else meta.get_field(self.field_name)

    def _queryset(self, value: object, using: str) -> Any:
        rows = self.model._default_manager.using(using).filter(**{self.field_name: value})
        rows = rows.order_by().select_related(*self.related) if self.related else rows.order_by()
        return rows.select_for_update() if self.for_update else rows

    def _compile(self, connection: Any, using: str) -> _Select | None:
        statements = _statements(connection)
        if self in statements:
            return statements[self]
        compiled = None
        if connection.vendor in _VENDORS:
            groups = [(self.model, None, _attnames(self.model))]
            lookups = list(groups[0][2])
            for name in self.related:
                related = self.model._meta.get_field(name).related_model
                groups.append((related, name, _attnames(related)))
                lookups += [f"{name}__{attname}" for attname in groups[-1][2]]
            rows = self.model._default_manager.using(using).filter(
                **{self.field_name: self.sample}).order_by()
            if self.for_update:
                rows = rows.select_for_update()
            compiler = rows.values_list(*lookups).query.get_compiler(using=using)
            sql, params = compiler.as_sql()
            if list(params) == [_prep(self._field(), self.sample, connection)]:
                columns = [column[0] for column in compiler.select[:compiler.col_count]]
                converted = tuple(
                    (position, column, converters)
                    for position, column in enumerate(columns)
                    if (converters := _converters(column, connection))
                )
                compiled = _Select(sql, converted, tuple(groups))
            else:  # pragma: no cover - a backend that inlines or adds parameters
                logger.warning("not preparing %s: unexpected parameters", self.model.__name__)
        statements[self] = compiled
        return compiled


def _attnames(model: type[Model]) -> tuple[str, ...]:
    return tuple(field.attname for field in model._meta.concrete_fields)


def _converters(column: Any, connection: Any) -> tuple[Any, ...]:
    return (*connection.ops.get_db_converters(column), *column.get_db_converters(connection))


def _convert(row: tuple, converted: tuple[tuple[int, Any, tuple[Any, ...]], ...],
             connection: Any) -> list:
    """What a queryset does to a fetched row: the backend's and the fields' converters."""
    row = list(row)
    for position, column, converters in converted:
        value = row[position]
        for converter in converters:
            value = converter(value, column, connection)
        row[position] = value
    return row


def _prep(field: Any, value: object, connection: Any) -> object:
    # What an ``exact`` lookup does with its right-hand side.
    return field.get_db_prep_value(field.get_prep_value(value), connection, prepared=True)


def _cached_sql(connection: Any, key: tuple, build: Any) -> str:
    statements = _statements(connection)
    if key not in statements:
        statements[key] = build()
    return statements[key]


def insert(obj: Model, using: str) -> None:
    """INSERT ``obj`` as a new row (``save(force_insert=True)``); sets its generated pk."""
    connection = connections[using]
    meta = obj._meta
    generated = meta.auto_field is not None and obj.pk is None
    if connection.vendor not in _VENDORS:
        obj.save(force_insert=True, using=using)
        return
    fields = [field for field in meta.concrete_fields if not (generated and field.primary_key)]
    returning = generated and connection.features.can_return_columns_from_insert

    def build() -> str:
        quote = connection.ops.quote_name
        sql = (f"INSERT INTO {quote(meta.db_table)} "
               f"({', '.join(quote(field.column) for field in fields)}) "
               f"VALUES ({', '.join(['%s'] * len(fields))})")
        # The clause Django itself appends on these backends (its helper for it
        # was renamed in Django 6.1).
        returned = f"{quote(meta.db_table)}.{quote(meta.pk.column)}"
        return f"{sql} RETURNING {returned}" if returning else sql

    sql = _cached_sql(connection, ("insert", meta.label), build)
    values = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        if returning:
            obj.pk = cursor.fetchone()[0]
        elif generated:
            obj.pk = connection.ops.last_insert_id(cursor, meta.db_table, meta.pk.column)
    obj._state.adding, obj._state.db = False, using


def update(obj: Model, field_names: Iterable[str], using: str) -> None:
    """UPDATE some fields of ``obj``'s row (``save(update_fields=...)``)."""
    connection = connections[using]
    field_names = tuple(field_names)
    if connection.vendor not in _VENDORS:
        obj.save(update_fields=field_names, using=using)
        return
    meta = obj._meta
    fields = [meta.get_field(name) for name in field_names]

    def build() -> str:
        quote = connection.ops.quote_name
        assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
        return (f"UPDATE {quote(meta.db_table)} SET {assignments} "
                f"WHERE {quote(meta.pk.column)} = %s")

    sql = _cached_sql(connection, ("update", meta.label, field_names), build)
    values = [field.get_db_prep_save(field.pre_save(obj, False), connection) for field in fields]
    values.append(meta.pk.get_db_prep_value(obj.pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        if cursor.rowcount != 1:
            raise DatabaseError(f"updating {meta.label} {obj.pk} affected {cursor.rowcount} rows")
