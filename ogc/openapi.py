"""The OpenAPI 3.0 definition of /ogc/ (the landing page's service-desc): every path and
parameter the views take, so that generic OGC clients and validators know them."""

from __future__ import annotations

from django.http import HttpRequest

from ogc.parameters import DEFAULT_LIMIT, MAX_LIMIT, RANGES

UNITS = {"velocity": "mm/yr", "temporal_coherence": "0-1"}
COLLECTION_ID = {
    "name": "collectionId",
    "in": "path",
    "required": True,
    "description": "a dataset's slug",
    "schema": {"type": "string"},
}
FORMAT = {
    "name": "f",
    "in": "query",
    "required": False,
    "description": "representation: json (GeoJSON for items) or html; else the Accept header",
    "schema": {"type": "string", "enum": ["json", "html"]},
}
ITEMS_PARAMETERS = [
    COLLECTION_ID,
    FORMAT,
    {
        "name": "bbox",
        "in": "query",
        "required": False,
        "description": "west,south,east,north in CRS84 degrees",
        "style": "form",
        "explode": False,
        "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}},
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    },
    {
        "name": "datetime",
        "in": "query",
        "required": False,
        "description": "an instant or interval (RFC 3339, '..' open); a point's time is its "
        "dataset's acquisitions, so a datetime outside them matches nothing",
        "schema": {"type": "string"},
    },
    {
        "name": "after",
        "in": "query",
        "required": False,
        "description": "keyset paging: the id after which the page starts (from a next link)",
        "schema": {"type": "integer", "minimum": 0},
    },
    {
        "name": "series",
        "in": "query",
        "required": False,
        "description": "true: each point carries its dates and displacements (mm)",
        "schema": {"type": "boolean", "default": False},
    },
    *[
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": f"{column} {operator} this ({UNITS[column]})",
            "schema": {"type": "number"},
        }
        for name, (column, operator) in RANGES.items()
    ],
]


def response(description: str, media: str = "application/json") -> dict:
    return {"description": description, "content": {media: {}, "text/html": {}}}


ERRORS = {
    "400": {"description": "a parameter is invalid; the body names it"},
    "401": {"description": "a token was given and is wrong or revoked"},
    "404": {"description": "no such collection or feature (or not visible to this user)"},
}


def operation(summary: str, operation_id: str, parameters: list, ok: dict) -> dict:
    return {
        "get": {
            "summary": summary,
            "operationId": operation_id,
            "parameters": parameters,
            "responses": {"200": ok, **ERRORS},
        }
    }


def definition(request: HttpRequest) -> dict:
    feature_id = {
        "name": "featureId",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "a point's id, or a reduced cell's id (cell-level-column-row)",
    }
    paths = {
        "/": operation("Landing page", "getLandingPage", [FORMAT], response("links")),
        "/conformance": operation(
            "Conformance classes", "getConformance", [FORMAT], response("conformsTo")
        ),
        "/api": operation(
            "This API definition",
            "getApi",
            [FORMAT],
            response("OpenAPI 3.0", "application/vnd.oai.openapi+json;version=3.0"),
        ),
        "/collections": operation(
            "The collections (datasets) the user may see",
            "getCollections",
            [FORMAT],
            response("collections"),
        ),
        "/collections/{collectionId}": operation(
            "One collection", "describeCollection", [COLLECTION_ID, FORMAT], response("collection")
        ),
        "/collections/{collectionId}/queryables": operation(
            "What items can be filtered on",
            "getQueryables",
            [COLLECTION_ID, FORMAT],
            response("JSON Schema", "application/schema+json"),
        ),
        "/collections/{collectionId}/items": operation(
            "Features of a collection, keyset-paged by id",
            "getFeatures",
            ITEMS_PARAMETERS,
            response("a GeoJSON FeatureCollection", "application/geo+json"),
        ),
        "/collections/{collectionId}/items/{featureId}": operation(
            "One feature",
            "getFeature",
            [COLLECTION_ID, feature_id, FORMAT, ITEMS_PARAMETERS[6]],
            response("a GeoJSON Feature", "application/geo+json"),
        ),
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Ground Motion Service - OGC API - Features",
            "version": "1.0.0",
            "description": "Sentinel-1 PS InSAR datasets as OGC API - Features (Part 1, Core). "
            "Restricted data: send `Authorization: Token <token>` (from the account page).",
        },
        "servers": [{"url": request.build_absolute_uri("/ogc")}],
        "components": {
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "Authorization"}
            }
        },
        "paths": paths,
    }
