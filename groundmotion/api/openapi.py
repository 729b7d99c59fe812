"""Schema annotations shared by the API views: the error answers and the area-mean body.

Every error the views can give is documented, so that clients (and tests/api/test_fuzz.py's
status-code check) can tell a refusal from a fault: a 500 is never documented.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

# Errors are {"detail": "..."} or {"<field>": "..."}: free-form objects of messages.
ERROR_BODY = {
    "type": "object",
    "additionalProperties": True,
    "description": '{"detail": "message"} or {"<field>": "message"}',
}
ERRORS = {
    400: "Bad input; the message names the field or parameter (a NUL character anywhere, "
    "a number out of range, malformed GeoJSON or WKT).",
    401: "The API token is invalid or revoked (or, for downloads, no one is signed in).",
    403: "Signed-in users only, or no permission for this dataset.",
    404: "No such object, or one the user may not see.",
    410: "The export has expired: request the download again.",
    415: "The body's media type is not JSON, a form or multipart.",
    429: "Today's download limit is reached.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """400 and 401 (any request may carry a bad parameter or token) plus the given codes."""
    return {
        code: OpenApiResponse(ERROR_BODY, description=ERRORS[code]) for code in (400, 401, *codes)
    }


# A numeric filter; empty (`?velocity_min=`, as in the README's URL template) means no filter.
NUMBER_OR_EMPTY = {"anyOf": [{"type": "number"}, {"type": "string", "maxLength": 0}]}

# The area-mean request, as filters.area_request and geojson.polygon_from_geojson read it.
AREA_REQUEST = {
    "type": "object",
    "required": ["dataset", "geometry"],
    "properties": {
        "dataset": {"type": "string", "description": "dataset slug"},
        "geometry": {
            "type": "object",
            "description": "GeoJSON Polygon or MultiPolygon in WGS84 (a Feature with one is "
            "accepted too); valid, not empty, at most 4 square degrees and 10,000 vertices",
            "required": ["type", "coordinates"],
            "properties": {
                "type": {"type": "string", "enum": ["Polygon", "MultiPolygon"]},
                "coordinates": {
                    "type": "array",
                    "items": {"type": "array"},
                    "description": "Polygon: rings; MultiPolygon: polygons of rings",
                    "example": [[[-1.06, 43.69], [-1.03, 43.69], [-1.03, 43.71], [-1.06, 43.69]]],
                },
            },
        },
    },
}

# The analysis a point path accepts (groundmotion/analysis.py): a period and a reference.
ANALYSIS_PARAMETERS = [
    OpenApiParameter(
        "start", OpenApiTypes.DATE, description="period start: velocity over start..end"
    ),
    OpenApiParameter("end", OpenApiTypes.DATE, description="period end (at least 3 acquisitions)"),
    OpenApiParameter(
        "reference", int, description="point id of the same dataset: every series minus its own"
    ),
    OpenApiParameter(
        "reference_area",
        str,
        description="WKT polygon (WGS84, at most 100 km²): minus the mean of the points inside",
    ),
]

# The model endpoint's own parameters, on top of ANALYSIS_PARAMETERS.
MODEL_PARAMETERS = [
    OpenApiParameter(
        "terms",
        str,
        description="comma-separated: acceleration, seasonal (offset and velocity "
        "are always fitted)",
    ),
    OpenApiParameter(
        "step", OpenApiTypes.DATE, description="a Heaviside step from this date (an event), mm"
    ),
]

# The profile request, as groundmotion/api/profile.py reads it.
PROFILE_REQUEST = {
    "type": "object",
    "required": ["dataset", "line", "width"],
    "properties": {
        "dataset": {"type": "string", "description": "dataset slug"},
        "line": {
            "type": "object",
            "description": "GeoJSON LineString in WGS84, 2 to 1,000 vertices, at most 50 km long",
            "required": ["type", "coordinates"],
            "properties": {
                "type": {"type": "string", "enum": ["LineString"]},
                "coordinates": {
                    "type": "array",
                    "items": {"type": "array", "items": {"type": "number"}},
                    "example": [[-1.06, 43.70], [-1.01, 43.70]],
                },
            },
        },
        "width": {"type": "number", "description": "swath width, metres, (0, 2000]"},
        "start": {"type": "string", "format": "date"},
        "end": {"type": "string", "format": "date"},
        "reference": {"type": "integer", "description": "point id"},
        "reference_area": {"type": "string", "description": "WKT polygon"},
        "format": {"type": "string", "enum": ["json", "csv", "png"]},
    },
}
