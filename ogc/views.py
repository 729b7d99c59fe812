"""OGC API - Features views: thin; access through groundmotion/access.py as on every path.

A collection the user may not see is a 404 like its tiles; a token (`Authorization: Token …`)
counts as its user, so GDAL, OWSLib and QGIS reach restricted data with one header. Bodies are
private to their user (Vary: Cookie, Authorization, Accept).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from accounts.authentication import TokenRefused, request_user, token_refusal
from groundmotion import access
from ogc import documents, items, openapi
from ogc.parameters import OgcError, invalid, parse_flag, parse_items, refuse_unknown

FORMATS = {"json": "json", "geojson": "json", "html": "html"}
PRIVATE = "private, max-age=60"


def representation(request: HttpRequest) -> str:
    """'json' or 'html': f= first, else the Accept header (JSON when it says nothing)."""
    asked = request.GET.get("f")
    if asked is not None:
        if asked not in FORMATS:
            raise invalid("f", "expected json or html")
        return FORMATS[asked]
    preferred = request.get_preferred_type(
        ["application/json", "application/geo+json", "text/html"]
    )
    return "html" if preferred == "text/html" else "json"


def ogc_view(view: Callable) -> Callable:
    """Resolves the user (token or session), turns refusals into OGC exception bodies."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        try:
            user = request_user(request)
        except TokenRefused as error:
            return token_refusal(error)
        try:
            kind = representation(request)
            response = view(request, user, kind, *args, **kwargs)
        except OgcError as error:
            response = JsonResponse(error.as_dict(), status=error.status)
        except Http404 as error:
            body = {"code": "NotFound", "description": str(error) or "Not found"}
            response = JsonResponse(body, status=404)
        response["Cache-Control"] = PRIVATE
        response["Vary"] = "Cookie, Authorization, Accept"
        return response

    return wrapped


def respond(request: HttpRequest, kind: str, body: dict, media: str, page: dict) -> HttpResponse:
    if kind == "html":
        context = {**page, "body": body, "body_json": json.dumps(body, indent=2)[:200_000]}
        return render(request, "ogc/page.html", context)
    return HttpResponse(json.dumps(body, separators=(",", ":")), content_type=media)


def no_parameters(request: HttpRequest) -> None:
    refuse_unknown(request.GET, ("f",))


@ogc_view
def landing(request: HttpRequest, user, kind: str) -> HttpResponse:
    no_parameters(request)
    body = documents.landing(request, kind)
    return respond(
        request, kind, body, documents.JSON, {"title": body["title"], "links": body["links"]}
    )


@ogc_view
def conformance(request: HttpRequest, user, kind: str) -> HttpResponse:
    no_parameters(request)
    body = documents.conformance(request, kind)
    page = {
        "title": "Conformance",
        "rows": [[uri] for uri in body["conformsTo"]],
        "headers": ["class"],
    }
    return respond(request, kind, body, documents.JSON, page)


@ogc_view
def api_definition(request: HttpRequest, user, kind: str) -> HttpResponse:
    no_parameters(request)
    body = openapi.definition(request)
    page = {
        "title": "API definition (OpenAPI 3.0)",
        "headers": ["path", "summary"],
        "rows": [[path, spec["get"]["summary"]] for path, spec in body["paths"].items()],
        "links": [documents.link(request, "/ogc/api", "alternate", documents.OPENAPI, "as JSON")],
    }
    return respond(request, kind, body, documents.OPENAPI, page)


@ogc_view
def collections(request: HttpRequest, user, kind: str) -> HttpResponse:
    no_parameters(request)
    body = documents.collections(request, user, kind)
    page = {
        "title": "Collections",
        "links": body["links"],
        "headers": ["id", "title", "level", "quantity", "features"],
        "collections": body["collections"],
    }
    return respond(request, kind, body, documents.JSON, page)


@ogc_view
def collection(request: HttpRequest, user, kind: str, slug: str) -> HttpResponse:
    no_parameters(request)
    dataset = access.get_dataset_for_user(user, slug)[0]
    body = documents.collection(request, user, dataset, kind)
    facts = (
        "level",
        "quantity",
        "sign_convention",
        "features",
        "feature_count",
        "acquisitions",
        "licence",
        "attribution",
    )
    page = {
        "title": body["title"],
        "description": body["description"],
        "links": body["links"],
        "headers": ["", ""],
        "rows": [[name.replace("_", " "), body[name]] for name in facts]
        + [
            ["extent", ", ".join(f"{value:.5f}" for value in body["extent"]["spatial"]["bbox"][0])],
            ["period", " to ".join(str(day) for day in body["extent"]["temporal"]["interval"][0])],
            [
                "provider",
                "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in body["provider"].items()),
            ],
        ],
    }
    return respond(request, kind, body, documents.JSON, page)


@ogc_view
def queryables(request: HttpRequest, user, kind: str, slug: str) -> HttpResponse:
    no_parameters(request)
    dataset = access.get_dataset_for_user(user, slug)[0]
    body = documents.queryables(request, user, dataset)
    page = {
        "title": f"Queryables of {dataset.name}",
        "description": body["description"],
        "headers": ["property", "type", "description"],
        "rows": [
            [name, spec.get("type", "geometry"), spec.get("description", "")]
            for name, spec in body["properties"].items()
        ],
    }
    return respond(request, kind, body, "application/schema+json", page)


@ogc_view
def collection_items(request: HttpRequest, user, kind: str, slug: str) -> HttpResponse:
    dataset = access.get_dataset_for_user(user, slug)[0]
    query = parse_items(request.GET)
    page = items.items_page(user, dataset, query)
    root = documents.site_root(request)
    for feature in page.features:
        documents.absolute_feature_links(root, feature)
    body = documents.feature_collection(request, dataset, query, page, kind)
    return respond(request, kind, body, documents.GEOJSON, items_page_context(dataset, body))


# The columns of the HTML items table (all properties are in the JSON).
HTML_COLUMNS = ("pid", "velocity", "velocity_std", "coherence", "height", "count", "level")


def items_page_context(dataset, body: dict) -> dict:
    features = body["features"]
    names = [name for name in HTML_COLUMNS if features and name in features[0]["properties"]]
    matched = f"{body['numberMatched']:,}" if "numberMatched" in body else "more"
    return {
        "title": f"{dataset.name}: features",
        "description": f"{body['numberReturned']:,} of {matched} features (the next link pages on)",
        "links": body["links"],
        "item_base": f"/ogc/collections/{dataset.slug}/items/",
        "headers": ["id", "longitude, latitude", *names],
        "rows": [
            [feature["id"], feature_position(feature), *(feature["properties"][n] for n in names)]
            for feature in features
        ],
    }


def feature_position(feature: dict) -> str:
    geometry = feature["geometry"]
    if geometry["type"] == "Point":
        return "{:.6f}, {:.6f}".format(*geometry["coordinates"])
    ring = geometry["coordinates"][0]
    return "{:.5f}, {:.5f} (cell)".format(*ring[0])


@ogc_view
def collection_item(
    request: HttpRequest, user, kind: str, slug: str, feature_id: str
) -> HttpResponse:
    refuse_unknown(request.GET, ("f", "series"))
    dataset = access.get_dataset_for_user(user, slug)[0]
    with_series = parse_flag("series", request.GET.get("series", ""))
    feature = documents.absolute_feature_links(
        documents.site_root(request), items.item(user, dataset, feature_id, with_series)
    )
    base = f"/ogc/collections/{dataset.slug}/items/{feature_id}"
    feature["links"] = [
        *documents.self_links(request, base, kind),
        documents.link(
            request,
            f"/ogc/collections/{dataset.slug}",
            "collection",
            documents.JSON,
            "the collection",
        ),
        *feature.get("links", []),
    ]
    page = {
        "title": f"{dataset.name}: feature {feature['id']}",
        "links": feature["links"],
        "headers": ["property", "value"],
        "rows": [
            [name, value]
            for name, value in feature["properties"].items()
            if name not in ("dates", "displacement")
        ],
    }
    return respond(request, kind, feature, documents.GEOJSON, page)
