"""What a dataset's tiles hold, for clients that add a layer from one URL: TileJSON 3.0.0 at
/tiles/<slug>.json (also /tiles/<slug>/tilejson.json) and a MapLibre style (spec v8) at
/tiles/<slug>/style.json, drawn with the viewer's own colour scale.

Both follow the tiles' access rules (tile_views): 404 when the user may not see the dataset, 401
for a bad token, the reduced datasets' anonymous users told of cells only, and shared caches
allowed only what everybody would get.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_safe

from accounts.authentication import TokenRefused, request_user, token_refusal
from groundmotion import access, tiles
from groundmotion.access import AnyUser
from groundmotion.models import Dataset
from groundmotion.quantities import quantity
from groundmotion.tile_views import PRIVATE_CACHE_CONTROL, PUBLIC_CACHE_CONTROL, is_public

# The viewer's diverging scale (static/js/legend.js STOPS, kept equal by a test): positions in
# [-1, 1] of the range, red for negative, blue for positive; grey where there is no value.
STOPS = (
    (-1.0, (165, 0, 38)),
    (-0.5, (244, 109, 67)),
    (0.0, (255, 255, 191)),
    (0.5, (116, 173, 209)),
    (1.0, (49, 54, 149)),
)
NO_VALUE = "#888"
# The viewer's default range (legend.js), mm/yr either side of zero; ?range= changes it.
DEFAULT_RANGE_MM_YR = 10.0
MAX_RANGE_MM_YR = 100.0
WORLD_BOUNDS = [-180, -85.0511, 180, 85.0511]
# Where a client opens the layer: cells, a town in view.
OPENING_ZOOM = 12

# The layers of a dataset's tiles (tiles.py and analysis_tiles.py write them): field -> what it
# holds, with the dataset's quantity words (quantities.py) filled in. The analysis fields come
# only with the tiles' analysis parameters (docs/analysis.md), which also make `velocity` the
# period's and the reference's. Every field is a number.
ANALYSIS_FIELDS = {
    "displacement": "displacement between the acquisitions nearest to from= and to=, mm",
    "change": "period velocity minus whole-window velocity (start=, end=), mm/yr",
}
VECTOR_LAYERS = {
    "cells": (
        "Points aggregated per cell, below the point zoom",
        {
            "count": "points in the cell",
            "velocity": "mean {velocity_label} of the cell's points, to 0.1; + {positive}",
            "coherence": "mean temporal coherence of the cell's points (0-1), to 0.01",
            **ANALYSIS_FIELDS,
        },
    ),
    "points": (
        "Measurement points, from the point zoom; the feature id is the point id (/api/points/)",
        {
            "velocity": "{velocity_label}, to 0.1; + {positive}",
            "coherence": "temporal coherence (0-1), to 0.01",
            **ANALYSIS_FIELDS,
            "change_sigma": "the change over its combined standard deviation (changes=k)",
        },
    ),
}

Document = Callable[[HttpRequest, AnyUser, Dataset], dict | HttpResponse]


def dataset_document(build: Document) -> Callable[[HttpRequest, str], HttpResponse]:
    """A JSON view of one dataset by the tiles' rules: 401 for a bad token, 404 when the user
    may not see it, public caching only for what everybody gets. `build` may answer a 400."""

    @require_safe
    @wraps(build)
    def view(request: HttpRequest, slug: str) -> HttpResponse:
        try:
            user = request_user(request)
        except TokenRefused as error:
            return token_refusal(error)
        dataset = access.get_dataset_for_user(user, slug)[0]
        body = build(request, user, dataset)
        if isinstance(body, HttpResponse):
            return body
        response = JsonResponse(body)
        kind = tiles.tile_kind(user, dataset, settings.GROUNDMOTION["POINT_ZOOM"])
        public = is_public(dataset, kind)
        response["Cache-Control"] = PUBLIC_CACHE_CONTROL if public else PRIVATE_CACHE_CONTROL
        response["Vary"] = "Cookie, Authorization"
        return response

    return view


def vector_layers(dataset: Dataset, sees_points: bool) -> list[dict]:
    """TileJSON vector_layers: cells up to the point zoom (every zoom for users who see only
    cells), points from it.

    `fields` give each field's type as tippecanoe writes it ("Number"), the spec's own example
    and what GDAL's MVT driver reads into typed columns; the words go in `field_descriptions`
    (the spec allows keys of one's own in a layer)."""
    words = quantity(dataset)
    point_zoom = settings.GROUNDMOTION["POINT_ZOOM"]
    zooms = {
        "cells": (0, point_zoom - 1 if sees_points else tiles.MAX_ZOOM),
        "points": (point_zoom, tiles.MAX_ZOOM),
    }
    return [
        {
            "id": name,
            "description": description,
            "fields": dict.fromkeys(fields, "Number"),
            "field_descriptions": {field: text.format(**words) for field, text in fields.items()},
            "minzoom": zooms[name][0],
            "maxzoom": zooms[name][1],
        }
        for name, (description, fields) in VECTOR_LAYERS.items()
        if name == "cells" or sees_points
    ]


def middle(extent: tuple[float, float, float, float]) -> list[float]:
    west, south, east, north = extent
    return [(west + east) / 2, (south + north) / 2]


def legend_text(dataset: Dataset, range_mm_yr: float = DEFAULT_RANGE_MM_YR) -> str:
    words = quantity(dataset)
    return (
        f"{words['velocity_label']}, -{range_mm_yr:g} to +{range_mm_yr:g}: red is "
        f"{words['negative']}, blue {words['positive']}, grey no value"
    )


def tilejson_body(request: HttpRequest, user: AnyUser, dataset: Dataset) -> dict:
    """TileJSON 3.0.0: the absolute tiles template, zooms, the extent the user may know."""
    extent = access.visible_summary(user, dataset)[1]
    template = request.build_absolute_uri(f"/tiles/{dataset.slug}/") + "{z}/{x}/{y}.pbf"
    body = {
        "tilejson": "3.0.0",
        "name": dataset.name,
        "description": dataset.description or None,
        "attribution": dataset.attribution or None,
        "legend": legend_text(dataset),
        # Every new dataset version changes tiles across tiles: the minor version (spec 3.17).
        "version": f"1.{dataset.version}.0",
        "scheme": "xyz",
        "tiles": [template],
        "minzoom": 0,
        "maxzoom": tiles.MAX_ZOOM,
        "bounds": list(extent) if extent else WORLD_BOUNDS,
        "vector_layers": vector_layers(dataset, access.sees_points(user, dataset)),
    }
    if extent:
        body["center"] = [*middle(extent), OPENING_ZOOM]
    return body


tilejson = dataset_document(tilejson_body)


def velocity_colour(range_mm_yr: float) -> list:
    """A MapLibre expression: legend.js colourFor(velocity, range), clamped, grey without one."""
    ramp: list = ["interpolate", ["linear"], ["get", "velocity"]]
    for position, (red, green, blue) in STOPS:
        ramp += [position * range_mm_yr, f"rgb({red},{green},{blue})"]
    return ["case", ["==", ["typeof", ["get", "velocity"]], "number"], ramp, NO_VALUE]


def circle_layer(dataset: Dataset, layer: str, paint: dict) -> dict:
    return {
        "id": f"{dataset.slug}-{layer}",
        "type": "circle",
        "source": dataset.slug,
        "source-layer": layer,
        "paint": {"circle-opacity": 0.9, **paint},
    }


def style_layers(dataset: Dataset, sees_points: bool, range_mm_yr: float) -> list[dict]:
    """Background, cells and points drawn as the viewer draws them (map.js)."""
    colour = velocity_colour(range_mm_yr)
    cell_radius = ["min", ["+", 3, ["*", 0.6, ["log2", ["+", ["get", "count"], 1]]]], 8]
    layers = [
        {"id": "background", "type": "background", "paint": {"background-color": "#f2efe9"}},
        circle_layer(dataset, "cells", {"circle-color": colour, "circle-radius": cell_radius}),
    ]
    if sees_points:
        paint = {
            "circle-color": colour,
            "circle-radius": ["step", ["zoom"], 4, 16, 5],
            "circle-stroke-color": "#333",
            "circle-stroke-width": 0.5,
        }
        layers.append(circle_layer(dataset, "points", paint))
    return layers


def parse_range(request: HttpRequest) -> float | None:
    """?range= in mm/yr (0 < range <= MAX_RANGE_MM_YR), the default without one; None if bad."""
    text = request.GET.get("range")
    if text is None:
        return DEFAULT_RANGE_MM_YR
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 < value <= MAX_RANGE_MM_YR else None


def style_body(request: HttpRequest, user: AnyUser, dataset: Dataset) -> dict | HttpResponse:
    """A MapLibre style: one vector source from the TileJSON, no glyphs or sprites needed."""
    range_mm_yr = parse_range(request)
    if range_mm_yr is None:
        message = f"A number of mm/yr above 0 and at most {MAX_RANGE_MM_YR:g}."
        return JsonResponse({"range": [message]}, status=400)
    tilejson_url = request.build_absolute_uri(reverse("tilejson", args=[dataset.slug]))
    body = {
        "version": 8,
        "name": dataset.name,
        "metadata": {"groundmotion:legend": legend_text(dataset, range_mm_yr)},
        "sources": {dataset.slug: {"type": "vector", "url": tilejson_url}},
        "layers": style_layers(dataset, access.sees_points(user, dataset), range_mm_yr),
    }
    extent = access.visible_summary(user, dataset)[1]
    if extent:
        body["center"] = middle(extent)
        body["zoom"] = OPENING_ZOOM
    return body


style = dataset_document(style_body)
