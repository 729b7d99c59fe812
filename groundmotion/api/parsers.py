"""The API's JSON parser: any body it cannot use is a 400 ParseError, never a 500.

DRF's JSONParser turns ValueError into a ParseError but lets RecursionError (a body nested
thousands deep) through as a 500. This one also bounds the nesting depth, so the answer does not
depend on the interpreter's recursion limit, and refuses NUL characters in any string or key:
PostgreSQL text cannot hold them, so they would otherwise fail deep inside a query.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# No request of this API needs more: a MultiPolygon's coordinates are 4 arrays deep.
MAX_DEPTH = 32


class SafeJSONParser(JSONParser):
    """JSONParser with bounded depth and no NUL characters; every failure is a ParseError."""

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: dict | None = None
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested more than {MAX_DEPTH} deep") from None
        except ValueError as error:  # e.g. an integer of more than 4300 digits
            raise ParseError(f"JSON parse error - {error}") from None
        check_json(data)
        return data


def check_json(data: Any) -> None:
    """Raise ParseError naming the place (e.g. `geometry.type`) of a NUL or of too deep a
    nesting. Iterative, so that checking cannot itself overflow the stack."""
    for where, depth, value in walk(data):
        if depth > MAX_DEPTH:
            raise ParseError(f"{where or 'body'}: nested more than {MAX_DEPTH} deep")
        if isinstance(value, str) and "\x00" in value:
            raise ParseError(f"{where or 'body'}: text must not contain NUL characters")


def walk(data: Any) -> Iterator[tuple[str, int, Any]]:
    """(dotted place, depth, value) of every value and key in parsed JSON, depth first."""
    stack: list[tuple[str, int, Any]] = [("", 0, data)]
    while stack:
        where, depth, value = stack.pop()
        yield where, depth, value
        if isinstance(value, dict):
            for key, item in value.items():
                name = str(key).replace("\x00", "\\0")  # a NUL key is named, not echoed
                place = f"{where}.{name}" if where else name
                yield place, depth + 1, key
                stack.append((place, depth + 1, item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{index}]", depth + 1, item) for index, item in enumerate(value))
