"""Points partitioned by dataset: a bulk load fills a table of its own, then attaches it.

Why: COPY into a table with no index followed by sorted index builds is about twice as fast as
COPY with every index live (bench/README.md, "partitioned load"), and each dataset's tile and
bbox queries then read its own, smaller indexes.

A load of a new dataset (`StagedPoints`, opened before the caller's transaction begins):
1. a plain table shaped like the points table, under a name of its own, is created and filled
   on a second connection, in autocommit: PostgreSQL takes the points on one backend while
   the caller's transaction takes the series on another. Not being a partition, the table is
   invisible to readers;
2. the caller computes the summary and cells from it, its transaction builds the btree
   indexes while the second connection builds the GiST ones, both at once;
3. the caller's transaction renames it after the dataset and attaches it: the dataset appears
   with everything else the load wrote, at commit, or not at all. When the load fails, the
   table is dropped once the transaction has rolled back (so the context wraps it).
Readers of other datasets are never blocked: ATTACH takes SHARE UPDATE EXCLUSIVE on the
parent, ACCESS EXCLUSIVE only on the new table and on the default partition, for the moments
left before commit. Points written row by row (the admin, tests' factories) go to the DEFAULT
partition; a reload (--replace) writes through the parent into the dataset's partition.

Series and extras are partitioned by point id range (RANGE on point_id, the dataset's range of
storage/point_ids.py), so a dataset's are attached with its points and dropped with them. A
load's series and extras go into tables of their own created in the caller's transaction
(`claim`; copy_in routes them there through `dependent_table`), indexed and attached by
`attach`; those of datasets written row by row stay in the DEFAULT partitions.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from types import TracebackType

import psycopg
from django.db import connection

from groundmotion.storage import point_ids
from groundmotion.storage.tables import EXTRA_TABLE, POINT_TABLE, SERIES_TABLE

DEPENDENT_TABLES = (SERIES_TABLE, EXTRA_TABLE)
# Dataset id -> the StagedPoints loading it in this process (where its series and extras go).
loading: dict[int, StagedPoints] = {}
STAGING_PREFIX = f"{POINT_TABLE}_staged_"
# Connection parameters a second connection to the same database needs.
CONNECTION_KEYS = ("dbname", "user", "password", "host", "port", "sslmode", "options")


def partition_name(dataset_id: int, table: str = POINT_TABLE) -> str:
    """The dataset's partition of the points table (or of the series or extras table)."""
    return f"{table}_{int(dataset_id)}"


def dependent_table(table: str, ids: object) -> str:
    """Where rows of `table` (series or extras) with these point ids go: the staged table of a
    load of their dataset in progress, else the table itself (its partition, or DEFAULT)."""
    staged = loading.get(point_ids.dataset_of(ids[0])) if len(ids) else None
    return partition_name(staged.dataset_id, table) if staged is not None else table


def has_partition(dataset_id: int) -> bool:
    """Whether the dataset's points have a table of their own (attached or staged)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [partition_name(dataset_id)])
        return bool(cursor.fetchone()[0])


def dataset_rows(table: str, dataset_id: int) -> str:
    """A FROM item of the dataset's series (or extras) rows: its staged table during its load,
    else the table within the dataset's id range. Joined to points by id alone, the series
    table would be read across every dataset's partition; the inlined bounds prune it."""
    staged = loading.get(int(dataset_id))
    if staged is not None:
        return partition_name(staged.dataset_id, table)
    low, high = point_ids.id_range(dataset_id)
    return f"(SELECT * FROM {table} WHERE point_id >= {low} AND point_id < {high})"


class StagedPoints:
    """The points table of a new dataset during its load (see the module's docstring)."""

    def __init__(self) -> None:
        self.staging_name = self.table = self.key_index = ""
        self.dataset_id: int | None = None
        self.connection: psycopg.Connection | None = None
        self.pids_indexed = False
        # Jobs (COPYs) for the second connection, run in order by a thread of their own.
        self.jobs: queue.Queue = queue.Queue(maxsize=2)
        self.worker = threading.Thread(target=self._work, name="staged-points", daemon=True)
        self.error: BaseException | None = None
        self.error_tag: object = None

    def __enter__(self) -> StagedPoints:
        columns = _column_definitions()
        params = connection.get_connection_params()
        self.connection = psycopg.connect(
            **{key: params[key] for key in CONNECTION_KEYS if key in params}, autocommit=True
        )
        drop_abandoned_staging(self.connection)
        # Named after the connection's server process: while it lives, the table is in use.
        self.staging_name = f"{STAGING_PREFIX}{self.connection.info.backend_pid}"
        self.table, self.key_index = self.staging_name, f"{self.staging_name}_id"
        # Columns spelled out rather than LIKE the parent: LIKE would wait for any lock the
        # caller's transaction holds on the parent (a dataset it just deleted, say).
        self.connection.execute(f"CREATE TABLE {self.table} ({columns})")
        self.worker.start()
        return self

    def __exit__(
        self, kind: type | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if loading.get(self.dataset_id) is self:
            del loading[self.dataset_id]
        self.jobs.put((None, None))
        self.worker.join()
        try:
            if error is not None:  # the rolled-back transaction has let go of the table
                self.connection.execute("SET lock_timeout = '10s'")
                self.connection.execute(f"DROP TABLE IF EXISTS {self.staging_name}")
        except psycopg.errors.LockNotAvailable:
            pass  # held by an enclosing transaction: the next load drops it (abandoned)
        finally:
            self.connection.close()

    def claim(self, dataset_id: int) -> None:
        """Check every row's dataset from now on, so that ATTACH needs no validating scan (the
        first rows' dataset claims the table; cheap while it is still empty). In the caller's
        transaction, the dataset's series and extras tables are created, to attach with it."""
        if self.dataset_id is None:
            self.dataset_id = int(dataset_id)
            low, high = point_ids.id_range(self.dataset_id)
            # The parent's CHECK on ids is one ATTACH requires the table to have.
            constraints = (
                f"ADD CONSTRAINT {self.staging_name}_dataset CHECK (dataset_id = {dataset_id}),"
                f" ADD CONSTRAINT point_id_in_dataset_range CHECK ((id >> {point_ids.SHIFT})"
                " = dataset_id)"
            )
            self.submit(
                lambda database: database.execute(f"ALTER TABLE {self.staging_name} {constraints}")
            )
            with connection.cursor() as cursor:
                for table in DEPENDENT_TABLES:
                    name = partition_name(dataset_id, table)
                    cursor.execute(f"DROP TABLE IF EXISTS {name}")  # left by a reused id
                    cursor.execute(
                        f"DELETE FROM {table} WHERE point_id >= %s AND point_id < %s", [low, high]
                    )
                    cursor.execute(f"CREATE TABLE {name} (LIKE {table})")
                    # ATTACH then needs no validating scan of the new table.
                    cursor.execute(
                        f"ALTER TABLE {name} ADD CONSTRAINT {name}_range"
                        f" CHECK (point_id >= {low} AND point_id < {high})"
                    )
            loading[self.dataset_id] = self

    def submit(self, job: Callable[[psycopg.Connection], None], tag: object = None) -> None:
        """Run job(connection) on the second connection, after the jobs before it, while the
        caller goes on. A failure is raised by a later `submit` or by `wait`; `error_tag` is
        then the failed job's tag."""
        self._raise_failure()
        self.jobs.put((job, tag))

    def wait(self) -> None:
        """Return when every job submitted is done; raise the first failure."""
        self.jobs.join()
        self._raise_failure()

    def _raise_failure(self) -> None:
        if self.error is not None:
            raise self.error

    def _work(self) -> None:
        while True:
            job, tag = self.jobs.get()
            try:
                if job is None:
                    return
                if self.error is None:
                    job(self.connection)
            except BaseException as error:  # raised in the caller's thread by submit or wait
                self.error, self.error_tag = error, tag
            finally:
                self.jobs.task_done()

    def index_pids(self) -> None:
        """The unique (dataset_id, pid) index, built before a load's second file so that it
        finds the pids already loaded. Raises psycopg's UniqueViolation on a duplicate pid."""
        self.wait()
        self.connection.execute(
            f"CREATE UNIQUE INDEX {self.table}_pid ON {self.table} (dataset_id, pid)"
        )
        self.pids_indexed = True

    def build_indexes(self) -> IndexBuild:
        """Start the GiST indexes on the second connection; the caller builds the btree ones
        (`index_keys`) meanwhile, then joins."""
        self.wait()
        return IndexBuild(self)

    def index_keys(self) -> None:
        """In the caller's transaction: the id index (the primary key after `attach`) and the
        parent's unique indexes the table lacks; the series and extras tables' primary keys
        and statistics, before the cells are summed from a join of points and series."""
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE UNIQUE INDEX {self.key_index} ON {self.table} (id)")
            for definition in missing_indexes(cursor, self.table, unique=True):
                cursor.execute(definition)
            for table in DEPENDENT_TABLES:
                part = partition_name(self.dataset_id, table)
                cursor.execute(f"ALTER TABLE {part} ADD PRIMARY KEY (point_id)")
                cursor.execute(f"ANALYZE {part}")

    def attach(self, dataset_id: int) -> None:
        """In the caller's transaction, once the indexes are built: name the table after the
        dataset, analyse it and attach it (ATTACH checks that every row is the dataset's)."""
        name = partition_name(dataset_id)
        with connection.cursor() as cursor:
            if has_partition(dataset_id):  # left by a deleted dataset whose id came round again
                cursor.execute(f"DROP TABLE {name}")
            cursor.execute(f"ALTER TABLE {self.table} RENAME TO {name}")
            self.table = name
            cursor.execute(
                f"ALTER TABLE {name} ADD CONSTRAINT {name}_pkey PRIMARY KEY USING INDEX"
                f" {self.key_index}"
            )
            cursor.execute(f"ANALYZE {name}")
            cursor.execute(
                f"ALTER TABLE {POINT_TABLE} ATTACH PARTITION {name}"
                f" FOR VALUES IN ({int(dataset_id)})"
            )
            low, high = point_ids.id_range(dataset_id)
            for table in DEPENDENT_TABLES:
                part = partition_name(dataset_id, table)
                cursor.execute(
                    f"ALTER TABLE {table} ATTACH PARTITION {part}"
                    f" FOR VALUES FROM ({low}) TO ({high})"
                )


class IndexBuild:
    """The GiST indexes of a staged table, built in a thread on its second connection."""

    def __init__(self, staged: StagedPoints) -> None:
        with connection.cursor() as cursor:
            self.definitions = missing_indexes(cursor, staged.table, unique=False)
        self.staged = staged
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="gist-build", daemon=True)

    def __enter__(self) -> IndexBuild:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.thread.join()
        if self.error is not None and exc_info[1] is None:
            raise self.error

    def _run(self) -> None:
        try:
            for definition in self.definitions:
                self.staged.connection.execute(definition)
        except BaseException as error:  # re-raised by __exit__ in the caller's thread
            self.error = error


def drop_abandoned_staging(database: psycopg.Connection) -> list[str]:
    """Drop the staged tables of loads whose connection is gone (a killed process: a failed
    load drops its own); the names dropped. Never attached, no reader ever saw them."""
    rows = database.execute(
        "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE %s"
        " AND substr(relname, %s)::int NOT IN (SELECT pid FROM pg_stat_activity)",
        [STAGING_PREFIX.replace("_", "\\_") + "%", len(STAGING_PREFIX) + 1],
    ).fetchall()
    dropped = []
    database.execute("SET lock_timeout = '50ms'")
    for (name,) in rows:
        try:  # a table an open transaction still holds (renamed, say) is not abandoned
            database.execute(f"DROP TABLE IF EXISTS {name}")
            dropped.append(name)
        except psycopg.errors.LockNotAvailable:
            continue
    database.execute("RESET lock_timeout")
    return dropped


def _column_definitions() -> str:
    """The parent's columns as CREATE TABLE column definitions (types and NOT NULL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT quote_ident(attname), format_type(atttypid, atttypmod), attnotnull"
            " FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
            " AND NOT attisdropped ORDER BY attnum",
            [POINT_TABLE],
        )
        return ", ".join(
            f"{name} {kind}{' NOT NULL' if not_null else ''}"
            for name, kind, not_null in cursor.fetchall()
        )


def missing_indexes(cursor: object, table: str, *, unique: bool) -> list[str]:
    """CREATE INDEX statements for the parent's unique (or other) indexes the table lacks,
    read from the catalog so that an index a later migration adds to the parent is built on
    new partitions too."""
    cursor.execute(
        "SELECT tablename, indexdef FROM pg_indexes WHERE tablename IN (%s, %s)",
        [POINT_TABLE, table],
    )
    bodies: dict[str, set[str]] = {POINT_TABLE: set(), table: set()}
    for owner, definition in cursor.fetchall():
        is_unique = definition.startswith("CREATE UNIQUE")
        bodies[owner].add(("UNIQUE " if is_unique else "") + definition.split(" USING ", 1)[1])
    return [
        f"CREATE {'UNIQUE ' if unique else ''}INDEX ON {table} USING {body.removeprefix('UNIQUE ')}"
        for body in sorted(bodies[POINT_TABLE] - bodies[table])
        if body.startswith("UNIQUE ") == unique
    ]


def drop(dataset_id: int) -> bool:
    """Drop the dataset's partitions (points, series, extras); whether it had one.

    Instant where a DELETE of millions of rows is not; it locks the parents for the rest of
    the transaction, so callers commit soon after (a dataset deletion does). Series and
    extras left in the DEFAULT partitions within the dataset's id range are deleted too.
    """
    if not has_partition(dataset_id):
        delete_dependents(dataset_id)
        return False
    with connection.cursor() as cursor:
        for table in DEPENDENT_TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {partition_name(dataset_id, table)}")
        cursor.execute(f"DROP TABLE {partition_name(dataset_id)}")
    delete_dependents(dataset_id)
    return True


def delete_dependents(dataset_id: int) -> None:
    """Delete the series and extras in the dataset's id range (pruned to its partitions)."""
    low, high = point_ids.id_range(dataset_id)
    with connection.cursor() as cursor:
        for table in DEPENDENT_TABLES:
            cursor.execute(
                f"DELETE FROM {table} WHERE point_id >= %s AND point_id < %s", [low, high]
            )


def delete_points(dataset_id: int) -> None:
    """Delete a dataset's points, series and extras in set-based statements, keeping its
    partition (readers see the old points until the caller commits: what a reload wants)."""
    delete_dependents(dataset_id)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {POINT_TABLE} WHERE dataset_id = %s", [dataset_id])


def drop_with_dataset(sender: type, instance: object, **kwargs: object) -> None:
    """pre_delete of a Dataset: drop its partition first, so that Django's cascade finds no
    points to fetch and delete one by one (connected in GroundmotionConfig.ready)."""
    drop(instance.pk)
