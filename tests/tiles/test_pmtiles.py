"""The static public tiles (groundmotion/static_tiles.py): every archived tile, inflated, is the
live endpoint's anonymous tile byte for byte, at cell and point zooms, for public and reduced
datasets, masks applied; datasets anonymous users may not see are refused; the "pmtiles" job
builds the archive and removes it once the dataset is no longer public."""

from __future__ import annotations

import gzip
import io

import mapbox_vector_tile
import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon
from django.core.management import CommandError, call_command
from pmtiles.reader import MmapSource, Reader, all_tiles
from pmtiles.tile import Compression, TileType

from groundmotion import cells, curation
from groundmotion.models import Dataset, MaskedArea, ProcessingJob, Status, Visibility
from processing.static_tiles import run_pmtiles
from tests.factories import client_for

# The real-worker fixtures of the fault tests.
from tests.faults.conftest import plan, send_to_worker, start_worker, wait_for_job  # noqa: F401
from tests.mvt import tile_of
from tests.tiles.grid import CENTRE, LON, grid_dataset

MAX_ZOOM = 15
# Cell zooms and point zooms (POINT_ZOOM is 13).
CHECKED_ZOOMS = (2, 7, 11, 12, 13, 14, 15)


def read_archive(path) -> tuple[dict, dict, dict[tuple[int, int, int], bytes]]:
    """(header, metadata, {(z, x, y): inflated MVT}) of a PMTiles archive."""
    with open(path, "rb") as handle:
        source = MmapSource(handle)
        reader = Reader(source)
        tiles = {address: gzip.decompress(body) for address, body in all_tiles(source)}
        return reader.header(), reader.metadata(), tiles


def live_tile(zoom: int, x: int, y: int, slug: str) -> bytes:
    response = client_for().get(f"/tiles/{slug}/{zoom}/{x}/{y}.pbf")
    assert response.status_code == 200
    return response.content


def around(zoom: int, ring: int = 2) -> list[tuple[int, int, int]]:
    """The tiles within `ring` of the one over the grid's centre."""
    _, x, y = tile_of(*CENTRE, zoom)
    last = 2**zoom - 1
    return [
        (zoom, i, j)
        for i in range(max(x - ring, 0), min(x + ring, last) + 1)
        for j in range(max(y - ring, 0), min(y + ring, last) + 1)
    ]


def export(slug: str, path, max_zoom: int = MAX_ZOOM) -> None:
    call_command("export_pmtiles", slug, str(path), "--maxzoom", str(max_zoom))


def assert_same_as_live(slug: str, tiles: dict) -> None:
    """Every archived tile is the live one; every non-empty live tile near the data is there."""
    for (zoom, x, y), body in tiles.items():
        assert body == live_tile(zoom, x, y, slug), (zoom, x, y)
    for zoom in CHECKED_ZOOMS:
        for address in around(zoom):
            assert tiles.get(address, b"") == live_tile(*address, slug), address


def features(body: bytes) -> dict[str, list]:
    return {name: layer["features"] for name, layer in mapbox_vector_tile.decode(body).items()}


@pytest.mark.django_db
def test_the_archive_holds_the_live_anonymous_tiles_with_masked_points_left_out(tmp_path) -> None:
    dataset = grid_dataset()
    square = Polygon.from_bbox((-1.07, 43.69, -1.05, 43.72))  # the western half of the grid
    square.srid = 4326
    area = MaskedArea.objects.create(name="Depot", geom=MultiPolygon(square), reason="Defence")
    cells.refresh_masked_datasets(area)
    hidden = set(dataset.points.filter(geom__intersects=square).values_list("id", flat=True))
    assert 0 < len(hidden) < len(LON)
    path = tmp_path / "grid.pmtiles"
    export(dataset.slug, path)
    header, metadata, tiles = read_archive(path)
    assert {zoom for zoom, _, _ in tiles} == set(range(MAX_ZOOM + 1))
    assert_same_as_live(dataset.slug, tiles)
    point_tiles = [features(body) for (zoom, _, _), body in tiles.items() if zoom >= 13]
    shown = {feature["id"] for layers in point_tiles for feature in layers.get("points", [])}
    assert shown and not shown & hidden
    assert len(shown) == len(LON) - len(hidden)
    lowest = features(tiles[(0, 0, 0)])["cells"]
    assert sum(feature["properties"]["count"] for feature in lowest) == len(LON) - len(hidden)
    assert header["tile_type"] == TileType.MVT
    assert header["tile_compression"] == Compression.GZIP
    assert (header["min_zoom"], header["max_zoom"]) == (0, MAX_ZOOM)
    assert header["min_lon_e7"] <= round(LON.min() * 1e7) <= header["max_lon_e7"]
    assert header["min_lon_e7"] <= header["center_lon_e7"] <= header["max_lon_e7"]
    assert [layer["id"] for layer in metadata["vector_layers"]] == ["cells", "points"]
    assert metadata["vector_layers"][1]["maxzoom"] == MAX_ZOOM
    assert metadata["version"] == f"1.{Dataset.objects.get(pk=dataset.pk).version}.0"


@pytest.mark.django_db
def test_a_reduced_dataset_goes_in_as_its_reduced_cells_only(tmp_path, curator) -> None:
    dataset = grid_dataset("reduced-grid", visibility=Visibility.REDUCED)
    path = tmp_path / "reduced.pmtiles"
    export(dataset.slug, path)
    _, metadata, tiles = read_archive(path)
    assert tiles
    assert all(set(features(body)) == {"cells"} for body in tiles.values())
    assert [layer["id"] for layer in metadata["vector_layers"]] == ["cells"]
    assert_same_as_live(dataset.slug, tiles)
    # Fine points exist (a curator's tile has them) but never reach the archive.
    zoom, x, y = tile_of(*CENTRE, 14)
    response = client_for(curator).get(f"/tiles/{dataset.slug}/{zoom}/{x}/{y}.pbf")
    assert features(response.content).get("points")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"status": Status.DRAFT}, "draft"),
        ({"visibility": Visibility.RESTRICTED}, "restricted"),
        ({"visibility": Visibility.REGISTERED}, "registered"),
    ],
)
def test_datasets_anonymous_users_may_not_see_are_refused(tmp_path, options, reason) -> None:
    dataset = grid_dataset(f"hidden-{reason}", **options)
    path = tmp_path / "hidden.pmtiles"
    with pytest.raises(CommandError, match=reason):
        export(dataset.slug, path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
def test_bad_zooms_and_unknown_slugs_are_refused(tmp_path) -> None:
    grid_dataset()
    with pytest.raises(CommandError, match="maxzoom"):
        call_command(
            "export_pmtiles",
            "grid",
            str(tmp_path / "a.pmtiles"),
            "--minzoom",
            "9",
            "--maxzoom",
            "4",
        )
    with pytest.raises(CommandError, match="no dataset"):
        export("nowhere", tmp_path / "b.pmtiles")


@pytest.mark.django_db
def test_the_job_builds_the_archive_and_removes_it_once_unpublished(tmp_path, settings) -> None:
    settings.GROUNDMOTION_PMTILES_DIR = str(tmp_path)
    dataset = grid_dataset()
    messages = []
    run_pmtiles({"dataset": dataset.slug}, lambda share, text: messages.append(text))
    path = tmp_path / "grid.pmtiles"
    _, _, tiles = read_archive(path)
    assert tiles[(0, 0, 0)] == live_tile(0, 0, 0, dataset.slug)
    assert "tiles" in messages[-1]
    assert [p.name for p in tmp_path.iterdir()] == ["grid.pmtiles"]  # no temporary left
    assert curation.set_status(Dataset.objects.filter(pk=dataset.pk), Status.DRAFT) == 1
    queued = ProcessingJob.objects.get(kind="pmtiles")
    assert queued.parameters == {"dataset": dataset.slug}
    run_pmtiles(queued.parameters, lambda share, text: messages.append(text))
    assert not path.exists()
    assert "removed" in messages[-1]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("send_to_worker")
def test_publishing_rebuilds_the_archive_on_a_real_worker(
    tmp_path, settings, monkeypatch, request
) -> None:
    directory = tmp_path / "static-tiles"
    directory.mkdir()
    settings.GROUNDMOTION_PMTILES_DIR = str(directory)
    monkeypatch.setenv("GROUNDMOTION_PMTILES_DIR", str(directory))  # the worker's setting
    request.getfixturevalue("start_worker")("solo")
    dataset = grid_dataset("to-publish", status=Status.DRAFT)
    call_command("dataset", dataset.slug, "--publish", stdout=io.StringIO())
    job = wait_for_job(ProcessingJob.objects.get(kind="pmtiles").pk)
    assert job.state == ProcessingJob.State.SUCCEEDED, job.message
    _, _, tiles = read_archive(directory / "to-publish.pmtiles")
    assert tiles[(14, *tile_of(*CENTRE, 14)[1:])] == live_tile(*tile_of(*CENTRE, 14), dataset.slug)
    assert sorted(path.name for path in directory.iterdir()) == ["to-publish.pmtiles"]


@pytest.mark.django_db
def test_a_mask_change_queues_a_rebuild_only_when_static_tiles_are_on(tmp_path, settings) -> None:
    dataset = grid_dataset()
    square = Polygon.from_bbox((-1.07, 43.69, -1.05, 43.72))
    square.srid = 4326
    area = MaskedArea.objects.create(name="Depot", geom=MultiPolygon(square), reason="Defence")
    settings.GROUNDMOTION_PMTILES_DIR = ""
    cells.refresh_masked_datasets(area)
    assert not ProcessingJob.objects.filter(kind="pmtiles").exists()
    settings.GROUNDMOTION_PMTILES_DIR = str(tmp_path)
    cells.refresh_masked_datasets(area)
    job = ProcessingJob.objects.get(kind="pmtiles")
    assert job.parameters == {"dataset": dataset.slug}
    assert job.state == ProcessingJob.State.QUEUED
