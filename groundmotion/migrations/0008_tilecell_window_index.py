"""The cells' tile index gains the window columns and the count.

A point tile's stride comes from the sum of the finest cells under it (tiles.point_stride). With
the index on (dataset, zoom, tile_x, tile_y) alone, that sum read all ~4,000 cells of a level-12
tile from the heap to keep the 16 to 1,024 in the window: 2.7 ms per z13-16 tile on 10 M
points. With the window columns and the count in the index it is an index-only range scan
(0.3 ms).
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("groundmotion", "0007_points_partitioned_by_dataset"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="tilecell",
            name="tilecell_tile",
        ),
        migrations.AddIndex(
            model_name="tilecell",
            index=models.Index(
                fields=["dataset", "zoom", "tile_x", "tile_y", "cell_row", "cell_column"],
                include=("count",),
                name="tilecell_tile",
            ),
        ),
    ]
