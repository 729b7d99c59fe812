"""Leave half of each points page free so that re-fitting a dataset updates rows in place.

`fit`, `reference` and `calibrate`'s re-fits rewrite the parameter columns of every point.
An UPDATE whose new row version fits on the same page and changes no indexed column is a
HOT update: it inserts nothing into the primary key, the (dataset, pid) index or the GiST
index on geom. A full re-fit needs room for a second version of every row on its page,
hence 50 %. Measured on 10^6 points (bench/README.md): write-back 24 s at the default
fillfactor (no HOT update), 4.7-6.7 s at 50 (all HOT); the points table grows from 245 to
400 bytes per point, and heap scans read about twice the pages. Existing pages keep their layout until the table is rewritten (VACUUM FULL). Rows
loaded with NULL parameters widen on their first fit, and some of those updates are not HOT.
"""

from __future__ import annotations

from django.db import migrations

POINT_TABLE = "groundmotion_measurementpoint"


class Migration(migrations.Migration):
    dependencies = [("groundmotion", "0001_initial")]

    operations = [
        migrations.RunSQL(
            f"ALTER TABLE {POINT_TABLE} SET (fillfactor = 50)",
            f"ALTER TABLE {POINT_TABLE} RESET (fillfactor)",
        ),
    ]
