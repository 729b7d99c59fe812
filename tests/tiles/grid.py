"""The tile tests' data: a 20 x 20 grid of points 100 m apart near Dax, velocity = column index
- 10 (mm/yr), where its points fall by the independent tile formula of tests/mvt.py, and dense
random squares east of it for thinning and timeouts."""

from __future__ import annotations

import numpy as np

from groundmotion.models import Dataset
from tests.factories import make_dataset
from tests.mvt import tile_of

COLUMNS = np.arange(20)
LON = np.repeat(-1.06 + COLUMNS * 0.00124, 20)
LAT = np.tile(43.70 + COLUMNS * 0.0009, 20)
VELOCITY = np.repeat(COLUMNS - 10.0, 20)
CENTRE = (-1.06 + 0.0119, 43.70 + 0.0086)


def grid_dataset(slug: str = "grid", **options) -> Dataset:
    return make_dataset(slug, lon=LON, lat=LAT, velocity=VELOCITY, **options)


def points_in_tile(zoom: int, x: int, y: int) -> np.ndarray:
    """Which grid points fall in a tile, by the independent tile formula."""
    return np.array(
        [tile_of(lon, lat, zoom)[1:] == (x, y) for lon, lat in zip(LON, LAT, strict=True)]
    )


def tile_path(dataset: Dataset, zoom: int = 14) -> str:
    """The URL of the tile over the grid's centre."""
    return "/tiles/{}/{}/{}/{}.pbf".format(dataset.slug, *tile_of(*CENTRE, zoom))


def dense_dataset(
    slug: str, *, count: int, seed: int, side: float, velocity: bool = False
) -> Dataset:
    """count random points in a square of `side` degrees at (-1.05, 43.70), uniformly spread;
    with velocity, normal (0, 3) mm/yr (else 0)."""
    rng = np.random.default_rng(seed)
    lon, lat = -1.05 + rng.uniform(0, side, count), 43.70 + rng.uniform(0, side, count)
    options = {"velocity": rng.normal(0, 3, count)} if velocity else {}
    return make_dataset(slug, lon=lon, lat=lat, **options)
