"""Areas of interest for exports and downloads: a bbox or a WKT polygon, WGS84 degrees."""

from __future__ import annotations

from django.contrib.gis.geos import GEOSException, GEOSGeometry, Polygon
from django.db.models import QuerySet

from groundmotion.models import MeasurementPoint


class AreaError(ValueError):
    """An area the service cannot use, with a message for the user."""


def parse_bbox(text: str) -> Polygon:
    """'MINLON,MINLAT,MAXLON,MAXLAT' in degrees to a WGS84 polygon."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise AreaError("The bbox must be four numbers: MINLON,MINLAT,MAXLON,MAXLAT.") from None
    if len(values) != 4:
        raise AreaError("The bbox must be four numbers: MINLON,MINLAT,MAXLON,MAXLAT.")
    min_lon, min_lat, max_lon, max_lat = values
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        raise AreaError("The bbox must have MINLON < MAXLON and MINLAT < MAXLAT, in degrees.")
    box = Polygon.from_bbox((min_lon, min_lat, max_lon, max_lat))
    box.srid = 4326
    return box


def parse_polygon(text: str) -> GEOSGeometry:
    """A WKT (or GeoJSON) polygon in WGS84 degrees."""
    try:
        geometry = GEOSGeometry(text.strip(), srid=4326)
    except (GEOSException, ValueError, TypeError):
        raise AreaError("The polygon is not valid WKT or GeoJSON.") from None
    if geometry.geom_type not in ("Polygon", "MultiPolygon"):
        raise AreaError("The area must be a Polygon or MultiPolygon.")
    if not geometry.valid:
        raise AreaError(f"The polygon is invalid: {geometry.valid_reason}.")
    if geometry.srid != 4326:
        geometry.transform(4326)
    return geometry


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
