"""Querysets compiled once per process and run many times with one value changed.

Optimization for the hottest requests (tiles, point detail): building and compiling a
queryset took longer than the query itself. A CompiledLookup keeps the compiler's SQL and its
row-to-object machinery, and swaps one placeholder parameter (an id, a slug) per call. The
SQL is the ORM's own, so the rules it encodes are the ones the queryset states; whatever the
database holds (groups, masks, dataset states) is still read at every call.

The SQL also runs as a prepared statement (psycopg binds it on the server and prepares it on
each connection once, settings' prepare_threshold 0): PostgreSQL then plans it once rather than
at every call. The point lookup spent 0.9 ms in the planner and 0.1 ms running. Django's own
cursors bind on the client and never prepare, so no other query is affected.

Django has no public API to turn a compiled row into a model instance with its select_related
objects, so this module, and only this one, uses four internals: SQLCompiler.klass_info,
SQLCompiler.select, SQLCompiler.results_iter and query.get_related_populators. They are the
ones QuerySet iteration itself uses (ModelIterable). TESTED_DJANGO names the release they were
checked against; tests/access/test_compiled_access.py fails on any other, and compares every
lookup with its queryset's own answer.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import psycopg
from django.db import connections
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

from groundmotion.storage.replicas import read_alias

TESTED_DJANGO = (5, 2)
Value = TypeVar("Value")
# Compiled SQL is kept per dataset and kind of user: few keys in practice, but not bounded by
# the code, so each store is emptied when it reaches this many.
STORE_LIMIT = 4096
# Every per-process cache of access SQL or access answers, by name: the one place they live.
STORES: dict[str, dict] = {}


def store(name: str) -> dict:
    """The registered cache of this name (created empty the first time)."""
    return STORES.setdefault(name, {})


def forget_all() -> None:
    """Empty every registered cache: the next request compiles its SQL again."""
    for kept in STORES.values():
        kept.clear()


def remembered(store: dict[Hashable, Value], key: Hashable, build: Callable[[], Value]) -> Value:
    """store[key], built by build() the first time it is asked for (emptied at STORE_LIMIT)."""
    value = store.get(key)
    if value is None:
        if len(store) >= STORE_LIMIT:
            store.clear()
        value = store[key] = build()
    return value


class CompiledLookup:
    """A queryset's SQL and row decoding, run with `placeholder` replaced by a new value."""

    def __init__(self, queryset: QuerySet, placeholder: Any) -> None:
        self.database = queryset.db
        self.compiler = queryset.query.get_compiler(using=self.database)
        self.sql, self.params = self.compiler.as_sql()
        if placeholder not in self.params:
            raise ValueError("the placeholder is not among the queryset's parameters")
        self.placeholder = placeholder
        klass_info = self.compiler.klass_info
        self.model = klass_info["model"]
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        self.model_columns = slice(start, end)
        self.field_names = [column[0].target.attname for column in self.compiler.select[start:end]]
        self.populators = get_related_populators(klass_info, self.compiler.select, self.database)

    def row(self, value: Any) -> tuple | None:
        """The queryset's first row as the database returns it, placeholder set to `value`,
        read on the request's database (a replica for the viewer's reads)."""
        params = [value if param == self.placeholder else param for param in self.params]
        with server_bound_cursor(read_alias()) as cursor:
            cursor.execute(self.sql, params)
            return cursor.fetchone()

    def first(self, value: Any) -> Model | None:
        """The first object of the queryset with the placeholder set to `value`, or None."""
        row = self.row(value)
        if row is None:
            return None
        row = next(iter(self.compiler.results_iter([[row]])))
        instance = self.model.from_db(read_alias(), self.field_names, row[self.model_columns])
        for populator in self.populators:
            populator.populate(row, instance)
        return instance


def server_bound_cursor(database: str) -> CursorWrapper:
    """A cursor whose statements psycopg may prepare, wrapped as Django wraps its own (query
    logging, execute wrappers, database errors)."""
    connection = connections[database]
    connection.ensure_connection()
    cursor = psycopg.Cursor(connection.connection)
    connection.validate_thread_sharing()
    if connection.queries_logged:
        return PreparedDebugCursor(cursor, connection)
    return connection.make_cursor(cursor)


class PreparedDebugCursor(CursorDebugWrapper):
    """Logs the statement with its values, as Django logs its own: psycopg keeps no text of a
    prepared statement's run for Django to read back."""

    def execute(self, sql: str, params: list | None = None) -> object:
        with self.debug_sql(self.db.ops.compose_sql(sql, params), params):
            return CursorWrapper.execute(self, sql, params)
