"""Areas of interest for exports and downloads: a bbox or a WKT polygon, WGS84 degrees."""

from __future__ import annotations

import math

from django.contrib.gis.gdal import GDALException
from django.contrib.gis.geos import GEOSException, GEOSGeometry, Polygon
from django.db.models import QuerySet

from groundmotion.models import MeasurementPoint

# A drawn polygon is a few hundred characters; this bounds what one request asks of GEOS.
MAX_POLYGON_CHARACTERS = 100_000
BBOX_FORMAT = "The bbox must be four numbers: MINLON,MINLAT,MAXLON,MAXLAT."


class AreaError(ValueError):
    """An area the service cannot use, with a message for the user."""


def parse_bbox(text: str) -> Polygon:
    """'MINLON,MINLAT,MAXLON,MAXLAT' in degrees to a WGS84 polygon."""
    parts = text.split(",")
    if len(parts) != 4:
        raise AreaError(BBOX_FORMAT)
    try:
        min_lon, min_lat, max_lon, max_lat = (float(part) for part in parts)
    except ValueError:
        raise AreaError(BBOX_FORMAT) from None
    # NaN fails every comparison and infinities fail the range, so both are refused here.
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        raise AreaError("The bbox must have MINLON < MAXLON and MINLAT < MAXLAT, in degrees.")
    box = Polygon.from_bbox((min_lon, min_lat, max_lon, max_lat))
    box.srid = 4326
    return box


def parse_polygon(text: str) -> GEOSGeometry:
    """A WKT (or GeoJSON) polygon in WGS84 degrees: valid, not empty, within lon/lat range.

    A self-intersecting polygon is refused with GEOS's reason rather than repaired with
    make_valid: the repaired shape (a bow tie becomes two triangles) may not be the area meant.
    """
    if len(text) > MAX_POLYGON_CHARACTERS:
        raise AreaError(f"The polygon is too long: at most {MAX_POLYGON_CHARACTERS:,} characters.")
    try:
        geometry = GEOSGeometry(text.strip(), srid=4326)
        if geometry.srid != 4326:
            geometry.transform(4326)
    except (GEOSException, GDALException, ValueError, TypeError):
        raise AreaError("The polygon is not valid WKT or GeoJSON.") from None
    if geometry.geom_type not in ("Polygon", "MultiPolygon"):
        raise AreaError("The area must be a Polygon or MultiPolygon.")
    problem = polygon_problem(geometry)
    if problem:
        raise AreaError(f"{problem[:1].upper()}{problem[1:]}.")
    return geometry


def polygon_problem(geometry: GEOSGeometry) -> str | None:
    """Why a (multi)polygon in WGS84 cannot serve as an area, or None; shared with the API."""
    if geometry.empty:
        return "the polygon is empty"
    if not within_lonlat(geometry.extent):
        return "the polygon must lie within longitude -180..180 and latitude -90..90"
    if not geometry.valid:
        return f"the polygon is invalid: {geometry.valid_reason}"
    return None


def within_lonlat(extent: tuple[float, float, float, float]) -> bool:
    west, south, east, north = extent
    return (
        all(map(math.isfinite, extent))
        and -180 <= west <= east <= 180
        and -90 <= south <= north <= 90
    )


def parse_area(bbox: str | None, polygon: str | None) -> GEOSGeometry | None:
    """The area from whichever of bbox / polygon is given (not both); None means everything."""
    if bbox and polygon:
        raise AreaError("Give a bbox or a polygon, not both.")
    if bbox:
        return parse_bbox(bbox)
    if polygon:
        return parse_polygon(polygon)
    return None


def area_km2(area: GEOSGeometry) -> float:
    """Area in km², measured in EPSG:3035 (equal-area for Europe)."""
    return area.transform(3035, clone=True).area / 1e6


def within(points: QuerySet[MeasurementPoint], area: GEOSGeometry | None) -> QuerySet:
    """Restrict (already access-filtered) points to the area; the GiST index serves it."""
    return points if area is None else points.filter(geom__intersects=area)
