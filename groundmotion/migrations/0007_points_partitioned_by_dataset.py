"""Points become a table partitioned by dataset (LIST on dataset_id); see groundmotion/partitions.py.

A bulk load COPYs into a table of its own with no index, builds the indexes after (sorted
builds, about twice as fast as keeping them live) and attaches it as the dataset's partition.
The table as it was becomes the DEFAULT partition: it keeps its rows and indexes, and holds the
points of datasets written row by row (the admin, tests' factories).

The parent can have no primary key (it would have to include dataset_id): each partition has
its own on id, unique because every id comes from one sequence. PostgreSQL 15 allows no identity
column on a partitioned table, so id takes its default from a plain sequence instead.
"""

from django.db import migrations

POINT_TABLE = "groundmotion_measurementpoint"
DEFAULT = f"{POINT_TABLE}_default"
SEQUENCE = f"{POINT_TABLE}_id_seq"
STRIDES = (4, 16, 64, 256, 1024)
# The parent's indexes, named as before; creating them attaches the default partition's own.
PARENT_INDEXES = [
    ("point_dataset_pid", "UNIQUE (dataset_id, pid)"),
    ("groundmotion_measurementpoint_geom_20378e1b_id", "USING gist (geom)"),
    *[
        (f"point_geom_stride_{stride}", f"USING gist (geom) WHERE mod(id, {stride}) = 0")
        for stride in STRIDES
    ],
]

forward = [
    f"ALTER TABLE {POINT_TABLE} RENAME TO {DEFAULT}",
    *[f"ALTER INDEX {name} RENAME TO {name}_default" for name, _ in PARENT_INDEXES[1:]],
    f"ALTER TABLE {DEFAULT} RENAME CONSTRAINT point_dataset_pid TO point_dataset_pid_default",
    f"CREATE TABLE {POINT_TABLE} (LIKE {DEFAULT} INCLUDING DEFAULTS) PARTITION BY LIST (dataset_id)",
    f"ALTER TABLE {DEFAULT} ALTER COLUMN id DROP IDENTITY",
    f"CREATE SEQUENCE {SEQUENCE} OWNED BY {POINT_TABLE}.id",
    f"SELECT setval('{SEQUENCE}', coalesce((SELECT max(id) FROM {DEFAULT}), 0) + 1, false)",
    f"ALTER TABLE {POINT_TABLE} ALTER COLUMN id SET DEFAULT nextval('{SEQUENCE}')",
    f"ALTER TABLE {POINT_TABLE} ATTACH PARTITION {DEFAULT} DEFAULT",
    f"ALTER TABLE {POINT_TABLE} ADD CONSTRAINT {PARENT_INDEXES[0][0]} {PARENT_INDEXES[0][1]}",
    *[
        f"CREATE INDEX {name} ON {POINT_TABLE} {definition}"
        for name, definition in PARENT_INDEXES[1:]
    ],
]


class Migration(migrations.Migration):
    dependencies = [("groundmotion", "0006_points_and_series_without_db_foreign_keys")]
    # No reverse: turning partitions back into one table is a data move to plan, not a rollback.
    operations = [migrations.RunSQL(forward)]
