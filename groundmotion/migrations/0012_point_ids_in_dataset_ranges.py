"""Point ids carry their dataset; series and extras are partitioned by id range as points are.

id = dataset_id * 2^40 + n (groundmotion/storage/point_ids.py): a lookup by id then prunes to
one partition. Existing rows are re-keyed in place (series and extras first, through their
point, then the points): every new id is at least 2^40, above every old one, so no key
collides on the way. Nothing else stores point ids: cells and cell series are keyed by
dataset and cell, references by pid, download records by area. Links that carry an old id
(a shared /map#...points=, an /api/points/<id>/ bookmark) stop resolving.

Series and extras become RANGE-partitioned on point_id: each dataset with a points partition
of its own gets a series and an extras partition over its range; the tables as they were
become the DEFAULT partitions, keeping the rows of datasets written row by row.

A trigger moves the ids the points' sequence gives to rows written one by one (the admin,
test factories) into their dataset's range, and a CHECK holds every id to its dataset.
"""

from django.db import migrations

SHIFT = 40
POINTS = "groundmotion_measurementpoint"
# Dependent table -> its value column.
DEPENDENTS = {"groundmotion_pointseries": "displacements", "groundmotion_pointextra": "values"}
MAX_DATASET_ID = 2 ** (63 - SHIFT) - 1

TRIGGER = f"""
CREATE FUNCTION groundmotion_point_id_in_range() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.id := (NEW.dataset_id::bigint << {SHIFT}) + NEW.id;
    RETURN NEW;
END $$;
CREATE TRIGGER point_id_in_dataset_range BEFORE INSERT ON {POINTS}
    FOR EACH ROW WHEN (NEW.id < {1 << SHIFT}) EXECUTE FUNCTION groundmotion_point_id_in_range();
"""


def forward(apps: object, schema_editor: object) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM groundmotion_dataset")
        highest = cursor.fetchone()[0]
        if highest > MAX_DATASET_ID:
            raise RuntimeError(
                f"dataset id {highest} is above {MAX_DATASET_ID}: its point ids would not fit a"
                " bigint. Dump the datasets, renumber them from 1 and load them again."
            )
        for table in DEPENDENTS:
            cursor.execute(
                f"UPDATE {table} t SET point_id = (p.dataset_id::bigint << {SHIFT}) + t.point_id"
                f" FROM {POINTS} p WHERE p.id = t.point_id AND p.id < {1 << SHIFT}"
            )
        cursor.execute(
            f"UPDATE {POINTS} SET id = (dataset_id::bigint << {SHIFT}) + id WHERE id < {1 << SHIFT}"
        )
        cursor.execute(
            f"ALTER TABLE {POINTS} ADD CONSTRAINT point_id_in_dataset_range"
            f" CHECK ((id >> {SHIFT}) = dataset_id)"
        )
        cursor.execute(TRIGGER)
        cursor.execute(
            "SELECT d.id FROM groundmotion_dataset d"
            f" WHERE to_regclass('{POINTS}_' || d.id) IS NOT NULL ORDER BY d.id"
        )
        owned = [row[0] for row in cursor.fetchall()]
        for table, value in DEPENDENTS.items():
            partition_by_range(cursor, table, value, owned)


def partition_by_range(cursor: object, table: str, value: str, datasets: list[int]) -> None:
    default = f"{table}_default"
    cursor.execute(f"ALTER TABLE {table} RENAME TO {default}")
    cursor.execute(f"ALTER TABLE {default} RENAME CONSTRAINT {table}_pkey TO {default}_pkey")
    cursor.execute(
        f"CREATE TABLE {table} (point_id bigint NOT NULL, {value} bytea NOT NULL)"
        " PARTITION BY RANGE (point_id)"
    )
    cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (point_id)")
    for dataset_id in datasets:
        low, high = dataset_id << SHIFT, (dataset_id + 1) << SHIFT
        name, bounds = f"{table}_{dataset_id}", f"point_id >= {low} AND point_id < {high}"
        cursor.execute(f"CREATE TABLE {name} (LIKE {default})")
        cursor.execute(
            f"WITH moved AS (DELETE FROM {default} WHERE {bounds} RETURNING *)"
            f" INSERT INTO {name} SELECT * FROM moved ORDER BY point_id"
        )
        cursor.execute(f"ALTER TABLE {name} ADD CONSTRAINT {name}_pkey PRIMARY KEY (point_id)")
        cursor.execute(f"ALTER TABLE {name} ADD CONSTRAINT {name}_range CHECK ({bounds})")
        cursor.execute(
            f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})"
        )
    cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {default} DEFAULT")
    cursor.execute(f"ANALYZE {table}")


class Migration(migrations.Migration):
    dependencies = [("groundmotion", "0011_analysis_series")]
    # No reverse: ids re-keyed and tables split are a data move to plan, not a rollback.
    operations = [migrations.RunPython(forward)]
