"""Points partitioned by dataset: a bulk load fills a table of its own, then attaches it.

Why: COPY into a table with no index followed by sorted index builds is about twice as fast as
COPY with every index live (bench/README.md, "partitioned load"), and each dataset's tile and
bbox queries then read its own, smaller indexes.

A load, all in the caller's transaction so that a failure leaves nothing behind:
1. `stage(dataset)`: a plain table shaped like the points table, with CHECK (dataset_id = pk)
   so that attaching it needs no validating scan. No reader sees it until it is attached.
2. COPY into it (`bulk.copy_points(..., table=...)`), then the summary and cells from it.
3. `attach(dataset, table)`: the parent's indexes built on it, ANALYZE, ATTACH PARTITION.
   Readers of other datasets are never blocked: ATTACH takes SHARE UPDATE EXCLUSIVE on the
   parent, ACCESS EXCLUSIVE only on the new table and on the default partition, for the
   moments left before commit.
Points written row by row (the admin, tests' factories) go to the DEFAULT partition; a reload
(--replace) writes through the parent into whichever partition the dataset already has.
"""

from __future__ import annotations

from django.db import connection

POINT_TABLE = "groundmotion_measurementpoint"
SERIES_TABLE = "groundmotion_pointseries"
EXTRA_TABLE = "groundmotion_pointextra"


def partition_name(dataset_id: int) -> str:
    return f"{POINT_TABLE}_{int(dataset_id)}"


def has_partition(dataset_id: int) -> bool:
    """Whether the dataset's points have a partition of their own (attached or staged)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [partition_name(dataset_id)])
        return bool(cursor.fetchone()[0])


def stage(dataset_id: int) -> str:
    """Create the dataset's empty, unattached, unindexed points table; its name."""
    # A table left by a deleted dataset whose id came round again (a flushed test database).
    drop(dataset_id)
    table = partition_name(dataset_id)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {table} (LIKE {POINT_TABLE} INCLUDING DEFAULTS,"
            f" CONSTRAINT {table}_dataset CHECK (dataset_id = {int(dataset_id)}))"
        )
    return table


def index_pids(table: str) -> None:
    """The unique (dataset_id, pid) index, the one a load may need before it attaches: to find
    pids already loaded from an earlier file. Raises IntegrityError on a duplicate pid."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE UNIQUE INDEX {table}_pid ON {table} (dataset_id, pid)")


def attach(dataset_id: int, table: str) -> None:
    """Index, analyse and attach a staged table as the dataset's partition."""
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (id)")
        for definition in _missing_indexes(cursor, table):
            cursor.execute(definition)
        cursor.execute(f"ANALYZE {table}")
        cursor.execute(
            f"ALTER TABLE {POINT_TABLE} ATTACH PARTITION {table} FOR VALUES IN ({int(dataset_id)})"
        )


def _missing_indexes(cursor: object, table: str) -> list[str]:
    """CREATE INDEX statements for the parent's indexes the table lacks, read from the catalog
    so that an index a later migration adds to the parent is built on new partitions too."""
    cursor.execute(
        "SELECT tablename, indexdef FROM pg_indexes WHERE tablename IN (%s, %s)",
        [POINT_TABLE, table],
    )
    bodies: dict[str, set[str]] = {POINT_TABLE: set(), table: set()}
    for owner, definition in cursor.fetchall():
        unique = definition.startswith("CREATE UNIQUE")
        bodies[owner].add(("UNIQUE " if unique else "") + definition.split(" USING ", 1)[1])
    return [
        f"CREATE {'UNIQUE ' if body.startswith('UNIQUE ') else ''}INDEX ON {table}"
        f" USING {body.removeprefix('UNIQUE ')}"
        for body in sorted(bodies[POINT_TABLE] - bodies[table])
    ]


def drop(dataset_id: int) -> bool:
    """Drop the dataset's partition with its points' series and extras; whether there was one.

    Instant where a DELETE of millions of rows is not; it locks the points table for the rest
    of the transaction, so callers commit soon after (a dataset deletion does).
    """
    if not has_partition(dataset_id):
        return False
    table = partition_name(dataset_id)
    with connection.cursor() as cursor:
        for dependent in (SERIES_TABLE, EXTRA_TABLE):
            cursor.execute(f"DELETE FROM {dependent} WHERE point_id IN (SELECT id FROM {table})")
        cursor.execute(f"DROP TABLE {table}")
    return True


def delete_points(dataset_id: int) -> None:
    """Delete a dataset's points, series and extras in set-based statements, keeping its
    partition (readers see the old points until the caller commits: what a reload wants)."""
    points = f"SELECT id FROM {POINT_TABLE} WHERE dataset_id = %s"
    with connection.cursor() as cursor:
        for dependent in (SERIES_TABLE, EXTRA_TABLE):
            cursor.execute(f"DELETE FROM {dependent} WHERE point_id IN ({points})", [dataset_id])
        cursor.execute(f"DELETE FROM {POINT_TABLE} WHERE dataset_id = %s", [dataset_id])


def drop_with_dataset(sender: type, instance: object, **kwargs: object) -> None:
    """pre_delete of a Dataset: drop its partition first, so that Django's cascade finds no
    points to fetch and delete one by one (connected in GroundmotionConfig.ready)."""
    drop(instance.pk)
