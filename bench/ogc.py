"""bench/ogc: paging through OGC API - Features items on 10^6 points, first page and deep.

  BENCH_OGC_POINTS     points per track for make_demo (default 500,000: 10^6 in all)
  BENCH_OGC_REQUESTS   timed requests per kind (default 30)

Issue 16: a limit=1000 page deep into a collection must come at least as fast as the first,
which keyset paging gives (`after=<last id>`, an index range scan from that id) and OFFSET
does not (the database reads and throws away every row before the offset). Lines:
  ogc items first page  GET /ogc/collections/<slug>/items?limit=1000: p50 ms
  ogc items deep page   the same with after=<the id at 90% of the collection>: p50 ms, and
                        deep / first against the target 1.0
  offset peer deep page pygeoapi's PostgreSQL provider pages with SQLAlchemy's
                        `ORDER BY id OFFSET n LIMIT m` (pygeoapi/provider/postgresql.py,
                        `query`): that statement at offset 0 and at 90%, on the same table with
                        the same access rules (an anonymous user's visible points, masks
                        excluded) and the items' columns plus ST_AsGeoJSON, through psycopg; and
                        the keyset form of the same statement beside it
  ogc items bbox page   a 5 km x 5 km bbox over the densest town, limit=1000: p50 ms, and
                        against the first page
Data: make_demo in its own database, bench_ogc (loaded once, then reused). Requests go through
Django's test client in this process, DEBUG off, as an anonymous user of the public ascending
track; one warm-up pass first. The kinds of page alternate, so the shared machine's load falls
on all of them alike.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import psycopg

from bench import _tile_data as data
from fixtures import demo_region

DATABASE = "bench_ogc"
LIMIT = 1000
DEEP_SHARE = 0.9
BBOX_KM = 5.0
TARGET_DEEP_OVER_FIRST = 1.0


def ensure_database(points: int) -> str:
    os.environ["DEBUG"] = "false"
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    os.environ.setdefault("SECRET_KEY", "bench-ogc-not-secret")
    return data.ensure_database(points, DATABASE)


def timed_ms(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def items_getter(client, path: str, params: dict) -> Callable[[], dict]:
    """A request for one page of items, checked: 200, GeoJSON, `limit` features at most."""

    def get() -> dict:
        response = client.get(
            path, params, HTTP_HOST="localhost", HTTP_ACCEPT="application/geo+json"
        )
        if response.status_code != 200:
            raise RuntimeError(f"{path} {params}: {response.status_code} {response.content[:300]}")
        page = response.json()
        if not 0 < len(page["features"]) <= LIMIT:
            raise RuntimeError(f"{path} {params}: {len(page['features'])} features")
        return page

    return get


def alternated(requests: dict[str, Callable[[], object]], count: int) -> dict[str, list[float]]:
    """Each request once to warm up, then `count` timed rounds of all of them in turn."""
    for request in requests.values():
        request()
    times: dict[str, list[float]] = {name: [] for name in requests}
    for _ in range(count):
        for name, request in requests.items():
            times[name].append(timed_ms(request))
    return times


def id_at(url: str, dataset_id: int, share: float) -> tuple[int, int]:
    """(the id at `share` of the dataset's points ordered by id, their number)."""
    with psycopg.connect(data.plain(url)) as connection:
        total = connection.execute(
            "SELECT count(*) FROM groundmotion_measurementpoint WHERE dataset_id = %s",
            [dataset_id],
        ).fetchone()[0]
        point_id = connection.execute(
            "SELECT id FROM groundmotion_measurementpoint WHERE dataset_id = %s"
            " ORDER BY id OFFSET %s LIMIT 1",
            [dataset_id, int(share * total)],
        ).fetchone()[0]
    return point_id, total


def peer_statements(dataset) -> tuple[str, str]:
    """(OFFSET, keyset) page statements over an anonymous user's visible points: the access
    queryset's own SQL, ordered by id, the items' columns plus ST_AsGeoJSON(geom)."""
    from django.contrib.auth.models import AnonymousUser
    from django.contrib.gis.db.models.functions import AsGeoJSON
    from django.db import connection

    from groundmotion import access
    from ogc.items import POINT_PROPERTIES

    points = access.visible_points(AnonymousUser(), dataset)
    values = points.values("id", *POINT_PROPERTIES, geometry=AsGeoJSON("geom"))
    page = f"SELECT * FROM ({connection.ops.compose_sql(*values.query.sql_with_params())}) AS v"
    return (
        f"{page} ORDER BY id OFFSET %(offset)s LIMIT {LIMIT}",
        f"{page} WHERE id > %(after)s ORDER BY id LIMIT {LIMIT}",
    )


def time_peer(url: str, dataset, deep_offset: int, after: int, count: int) -> dict:
    offset_sql, keyset_sql = peer_statements(dataset)
    with psycopg.connect(data.plain(url)) as connection:

        def run(sql: str, params: dict) -> Callable[[], None]:
            def fetch() -> None:
                rows = connection.execute(sql, params).fetchall()
                if len(rows) != LIMIT:
                    raise RuntimeError(f"peer statement returned {len(rows)} rows")

            return fetch

        return alternated(
            {
                "offset first": run(offset_sql, {"offset": 0}),
                "offset deep": run(offset_sql, {"offset": deep_offset}),
                "keyset first": run(keyset_sql, {"after": 0}),
                "keyset deep": run(keyset_sql, {"after": after}),
            },
            count,
        )


def densest_town_bbox() -> str:
    _, lon, lat, _, _ = max(demo_region.TOWNS, key=lambda town: town[3])
    half_lon = BBOX_KM / 2 / demo_region.KM_PER_DEG_LON
    half_lat = BBOX_KM / 2 / demo_region.KM_PER_DEG_LAT
    return f"{lon - half_lon:.5f},{lat - half_lat:.5f},{lon + half_lon:.5f},{lat + half_lat:.5f}"


def p50(values: list[float]) -> float:
    return statistics.median(values)


def time_items(slug: str, after: int, count: int) -> tuple[dict[str, list[float]], int]:
    """Times (ms) of the three kinds of page, and the bbox page's numberMatched."""
    from django.test import Client

    client = Client()
    path = f"/ogc/collections/{slug}/items"
    first = items_getter(client, path, {"limit": LIMIT})
    deep = items_getter(client, path, {"limit": LIMIT, "after": after})
    check_deep_page(deep(), after)
    bbox = items_getter(client, path, {"limit": LIMIT, "bbox": densest_town_bbox()})
    in_box = bbox().get("numberMatched", -1)
    return alternated({"first": first, "deep": deep, "bbox": bbox}, count), in_box


def check_deep_page(page: dict, after: int) -> None:
    ids = [feature["id"] for feature in page["features"]]
    if len(ids) != LIMIT or int(ids[0]) <= after:
        raise RuntimeError(f"the page after {after} starts at {ids[0]} with {len(ids)} features")


def report(items: dict, peer: dict, count: int, deep_offset: int, in_box: int) -> None:
    first, deep, bbox = (p50(items[name]) for name in ("first", "deep", "bbox"))
    ratio = deep / first
    verdict = "meets" if ratio <= TARGET_DEEP_OVER_FIRST else "misses"
    print(f"ogc items first page  {first:7.1f} ms   p50 of {count}, limit={LIMIT}")
    print(
        f"ogc items deep page   {deep:7.1f} ms   deep/first {ratio:.2f}"
        f" (target <= {TARGET_DEEP_OVER_FIRST:.1f}: {verdict})"
    )
    peer = {name: p50(times) for name, times in peer.items()}
    offset_first, offset_deep = peer["offset first"], peer["offset deep"]
    print(
        f"offset peer deep page {offset_deep:7.1f} ms   deep/first {offset_deep / offset_first:.2f}"
        f" (SQL, OFFSET {deep_offset:,} against {offset_first:.1f} ms at OFFSET 0; the keyset"
        f" form {peer['keyset deep']:.1f} against {peer['keyset first']:.1f} ms:"
        f" {peer['keyset deep'] / peer['keyset first']:.2f})"
    )
    town = max(demo_region.TOWNS, key=lambda town: town[3])[0]
    print(
        f"ogc items bbox page   {bbox:7.1f} ms   bbox/first {bbox / first:.2f}"
        f" ({BBOX_KM:g} km box over {town}, numberMatched {in_box:,})",
        flush=True,
    )


def main() -> None:
    points = int(os.environ.get("BENCH_OGC_POINTS", "500000"))
    count = int(os.environ.get("BENCH_OGC_REQUESTS", "30"))
    url = ensure_database(points)
    from groundmotion.models import Dataset

    dataset = Dataset.objects.get(slug=data.SLUGS[0])
    after, total = id_at(url, dataset.pk, DEEP_SHARE)
    deep_offset = int(DEEP_SHARE * total)
    print(f"{dataset.slug}: {total:,} points; the deep page starts after id {after:,}", flush=True)
    items, in_box = time_items(dataset.slug, after, count)
    peer = time_peer(url, dataset, deep_offset, after, count)
    report(items, peer, count, deep_offset, in_box)


if __name__ == "__main__":
    main()
