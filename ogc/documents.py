"""The JSON documents of /ogc/: landing page, conformance, collections and their links.

Links are absolute (clients such as GDAL and OWSLib follow them as given) and carry `f=` only
where the representation differs from the default.
"""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest

from groundmotion import access
from groundmotion.models import Dataset
from groundmotion.quantities import quantity
from ogc import items
from ogc.parameters import CRS84

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
OGC_REL = "http://www.opengis.net/def/rel/ogc/1.0/"


def link(request: HttpRequest, path: str, rel: str, kind: str, title: str, **query: str) -> dict:
    href = request.build_absolute_uri(path)
    if query:
        href += "?" + urlencode(query)
    return {"href": href, "rel": rel, "type": kind, "title": title}


def self_links(request: HttpRequest, path: str, kind: str, **query: str) -> list[dict]:
    """self (this representation, kind "json" or "html") and alternate (the other one)."""
    as_json = link(request, path, "self", json_type(path), "this document", **query)
    as_html = link(request, path, "alternate", HTML, "this document as HTML", **query, f="html")
    if kind == "html":
        as_json.update(rel="alternate", title="this document as JSON")
        as_html.update(rel="self", title="this document")
        return [as_html, as_json]
    return [as_json, as_html]


def json_type(path: str) -> str:
    return GEOJSON if "/items" in path else JSON


def landing(request: HttpRequest, kind: str) -> dict:
    return {
        "title": f"{settings.SITE_NAME} - OGC API - Features",
        "description": "Persistent scatterer InSAR datasets (Sentinel-1 line-of-sight velocities, "
        "EGMS L2a/L2b/L3) as OGC API - Features collections: one collection per dataset.",
        "links": [
            *self_links(request, "/ogc/", kind),
            link(request, "/ogc/api", "service-desc", OPENAPI, "the API definition (OpenAPI 3.0)"),
            link(request, "/ogc/api", "service-doc", HTML, "the API definition as HTML", f="html"),
            link(request, "/ogc/conformance", "conformance", JSON, "conformance classes"),
            link(request, "/ogc/conformance", OGC_REL + "conformance", JSON, "conformance"),
            link(request, "/ogc/collections", "data", JSON, "the collections"),
            link(request, "/ogc/collections", OGC_REL + "data", JSON, "the collections"),
        ],
    }


def conformance(request: HttpRequest, kind: str) -> dict:
    return {"conformsTo": CONFORMANCE, "links": self_links(request, "/ogc/conformance", kind)}


def provider(dataset: Dataset) -> dict[str, Any]:
    """The product header's production facts (EGMS XML: facility, date, DEM, GNSS model)."""
    headers = (dataset.metadata or {}).get("headers") or {}
    header = next(iter(headers.values()), {}) if isinstance(headers, dict) else {}
    header = header if isinstance(header, dict) else {}
    found = {
        "name": dataset.attribution or None,
        "product_level": header.get("product_level"),
        "production_facility": header.get("production_facility"),
        "production_date": header.get("production_date"),
        "dem": (header.get("dem") or {}).get("version")
        if isinstance(header.get("dem"), dict)
        else None,
        "gnss_model": (header.get("gnss") or {}).get("version")
        if isinstance(header.get("gnss"), dict)
        else None,
    }
    return {name: value for name, value in found.items() if value}


def temporal_interval(dataset: Dataset) -> list[str | None]:
    dates = dataset.acquisition_dates
    if not dates:
        return [None, None]
    return [f"{dates[0].isoformat()}T00:00:00Z", f"{dates[-1].isoformat()}T23:59:59Z"]


def collection(request: HttpRequest, user, dataset: Dataset, kind: str) -> dict:
    base = f"/ogc/collections/{dataset.slug}"
    sees_points = access.sees_points(user, dataset)
    count, extent = access.visible_summary(user, dataset)
    words = quantity(dataset)
    return {
        "id": dataset.slug,
        "title": dataset.name,
        "description": dataset.description
        or f"{words['velocity_label']}: {words['sign_convention']}.",
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "extent": {
            "spatial": {"bbox": [list(extent) if extent else [-180, -90, 180, 90]], "crs": CRS84},
            "temporal": {
                "interval": [temporal_interval(dataset)],
                "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
            },
        },
        "level": dataset.level,
        "component": dataset.component,
        "quantity": words["short"],
        "sign_convention": words["sign_convention"],
        "track": {
            "pass": dataset.pass_direction or None,
            "relative_orbit": dataset.relative_orbit,
            "sensor": dataset.sensor,
        },
        "grid_size_m": dataset.grid_size_m,
        "features": "points" if sees_points else "cells",
        "feature_count": count,
        "acquisitions": len(dataset.acquisition_dates),
        "licence": dataset.licence or None,
        "attribution": dataset.attribution or None,
        "provider": provider(dataset),
        "links": [
            *self_links(request, base, kind),
            link(request, f"{base}/items", "items", GEOJSON, "the features as GeoJSON"),
            link(request, f"{base}/items", "items", HTML, "the features as HTML", f="html"),
            link(
                request,
                f"{base}/queryables",
                OGC_REL + "queryables",
                "application/schema+json",
                "what items can be filtered on",
            ),
            link(
                request,
                f"/tiles/{dataset.slug}.json",
                "describedby",
                JSON,
                "vector tiles (TileJSON 3.0)",
            ),
            link(
                request,
                f"/tiles/{dataset.slug}/style.json",
                "stylesheet",
                "application/vnd.mapbox.style+json",
                "MapLibre style of the tiles",
            ),
            *licence_links(dataset),
        ],
    }


def licence_links(dataset: Dataset) -> list[dict]:
    if dataset.licence.startswith(("http://", "https://")):
        return [{"href": dataset.licence, "rel": "license", "type": HTML, "title": "licence"}]
    return []


def collections(request: HttpRequest, user, kind: str) -> dict:
    visible = access.visible_datasets(user).order_by("slug")
    return {
        "collections": [collection(request, user, dataset, kind) for dataset in visible],
        "links": self_links(request, "/ogc/collections", kind),
    }


def queryables(request: HttpRequest, user, dataset: Dataset) -> dict:
    base = f"/ogc/collections/{dataset.slug}"
    velocity = f"{quantity(dataset)['velocity_label']}; {quantity(dataset)['sign_convention']}"
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": request.build_absolute_uri(f"{base}/queryables"),
        "type": "object",
        "title": dataset.name,
        "description": "Filter items with velocity_min, velocity_max (mm/yr), coherence_min and "
        "coherence_max (0-1) on /items, besides bbox and datetime.",
        "properties": {
            "geometry": {"$ref": "https://geojson.org/schema/Point.json"}
            if access.sees_points(user, dataset)
            else {"$ref": "https://geojson.org/schema/Polygon.json"},
            "velocity": {"type": "number", "description": velocity, "unit": "mm/yr"},
            "coherence": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "temporal coherence",
            },
        },
        "additionalProperties": False,
    }


def items_links(request: HttpRequest, dataset: Dataset, query, page: items.Page, kind: str) -> list:
    base = f"/ogc/collections/{dataset.slug}/items"
    here = query.link_parameters(query.after)
    found = [
        *self_links(request, base, kind, **here),
        link(request, f"/ogc/collections/{dataset.slug}", "collection", JSON, "the collection"),
    ]
    if page.next_after is not None:
        following = query.link_parameters(page.next_after)
        if kind == "html":
            following["f"] = "html"
        media = HTML if kind == "html" else GEOJSON
        found.append(link(request, base, "next", media, "next page", **following))
    return found


def feature_collection(request: HttpRequest, dataset: Dataset, query, page, kind: str) -> dict:
    body: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": page.features,
        "numberReturned": len(page.features),
        "timeStamp": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "links": items_links(request, dataset, query, page, kind),
    }
    if page.matched is not None:
        body["numberMatched"] = page.matched
    return body


def site_root(request: HttpRequest) -> str:
    """The scheme and host of this request's absolute links, without the trailing slash."""
    return request.build_absolute_uri("/")[:-1]


def absolute_feature_links(root: str, feature: dict) -> dict:
    for found in feature.get("links", []):
        found["href"] = root + found["href"]
    return feature
