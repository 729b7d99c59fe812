"""Partial GiST indexes for thinned point tiles (groundmotion/tiles.py POINT_TILE_SQL).

A dense tile at the point zoom reads only points with mod(id, stride) = 0; each stride has its
own partial index, about 1/stride of the full one (together about a third of it).
"""

from django.db import migrations

STRIDES = (4, 16, 64, 256, 1024)
TABLE = "groundmotion_measurementpoint"

create = [
    f"CREATE INDEX IF NOT EXISTS point_geom_stride_{stride} ON {TABLE} USING gist (geom)"
    f" WHERE mod(id, {stride}) = 0"
    for stride in STRIDES
]
drop = [f"DROP INDEX IF EXISTS point_geom_stride_{stride}" for stride in STRIDES]


class Migration(migrations.Migration):
    dependencies = [("groundmotion", "0004_tilecell")]
    operations = [migrations.RunSQL(create, reverse_sql=drop)]
