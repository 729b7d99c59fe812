"""Place search: GET /api/places/?q=dax, towns from the offline gazetteer (groundmotion/places.py).

Places are public reference data, not a product: no access rule applies, and no dataset is
looked up.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import api_view
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from groundmotion import places
from groundmotion.api.openapi import error_responses


@extend_schema(
    parameters=[
        OpenApiParameter(
            "q",
            str,
            required=True,
            description=f"start of a town's name or alternate name, 1-{places.MAX_QUERY_LENGTH} "
            "characters; accents and case do not matter",
        )
    ],
    responses={200: OpenApiTypes.OBJECT, **error_responses()},
    summary=f"Towns of {places.MIN_POPULATION:,} people or more by name "
    f"(at most {places.MAX_RESULTS}, exact names first, then by population)",
)
@api_view(["GET"])
def place_search(request: Request) -> Response:
    text = request.query_params.get("q", "")
    if not places.fold(text):
        raise ValidationError({"q": "required: the start of a place name"})
    if len(text) > places.MAX_QUERY_LENGTH:
        raise ValidationError({"q": f"at most {places.MAX_QUERY_LENGTH} characters"})
    if "\x00" in text:
        raise ValidationError({"q": "must not contain NUL characters"})
    return Response({"places": [place.to_dict() for place in places.search(text)]})
