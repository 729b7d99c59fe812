"""The layer picker in real Chromium: datasets grouped by area, level and geometry, whole names
in view (wrapped, never cut), draft and cells-only marks kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.test import Client

from groundmotion.models import Component, Dataset, Level, Status
from tests.factories import make_dataset
from tests.viewer.test_map import open_map

pytestmark = [pytest.mark.browser]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
LON, LAT = np.array([-1.05, -1.04]), np.array([43.70, 43.71])
DATASETS = [
    # slug, name, area, level, pass, component, status
    ("dax-asc", "Dax L2a ascending track 132, 2021\u20132023 (synthetic)", "Dax", "l2a",
     "ascending", "los", "published"),
    ("dax-desc", "Dax L2a descending track 81, 2021\u20132023 (synthetic)", "Dax", "l2a",
     "descending", "los", "published"),
    ("dax-l2b", "Dax L2b ascending track 132, 2021\u20132023", "Dax", "l2b", "ascending", "los",
     "draft"),
    ("dax-up", "Dax L3 up-down 2021\u20132023", "Dax", "l3", "", "up-down", "draft"),
    ("ustica", "L2b ascending track 117, burst 0227 IW2, 2020\u20132024", "Ustica", "l2b",
     "ascending", "los", "published"),
]  # fmt: skip


@pytest.fixture
def datasets(transactional_db) -> list[Dataset]:
    made = []
    for slug, name, area, level, pass_direction, component, status in DATASETS:
        dataset = make_dataset(
            slug, lon=LON, lat=LAT, level=level, pass_direction=pass_direction, status=status
        )
        Dataset.objects.filter(pk=dataset.pk).update(name=name, area=area, component=component)
        made.append(dataset)
    return made


@pytest.fixture
def curator_page(browser, live_server, curator):
    client = Client()
    client.force_login(curator)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    yield page
    page.goto("about:blank")
    context.close()


def picker(page, white_space: str = "") -> dict:
    """The picker's groups and options as drawn; `white_space` forces a style on every option
    and group (to see that "cut" can be seen at all)."""
    return page.evaluate(
        """(whiteSpace) => {
        const select = document.getElementById("dataset-select");
        select.querySelectorAll("option, optgroup").forEach((node) => {
            node.style.whiteSpace = whiteSpace;
        });
        const box = select.getBoundingClientRect();
        const cut = (node) => node.scrollWidth > node.clientWidth + 1
            || node.getBoundingClientRect().right > box.right + 1;
        return {
            size: select.size,
            scrolls: select.scrollHeight > select.clientHeight + 1,
            groups: [...select.querySelectorAll("optgroup")].map((group) => ({
                label: group.label,
                cut: cut(group),
                options: [...group.querySelectorAll("option")].map((option) => ({
                    text: option.textContent,
                    cut: cut(option),
                })),
            })),
        };
    }""",
        white_space,
    )


def test_the_picker_shows_groups_and_whole_names(curator_page, live_server, datasets) -> None:
    open_map(curator_page, live_server)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    curator_page.locator(".controls").screenshot(path=str(SCREENSHOTS / "layer-picker.png"))
    shown = picker(curator_page)
    assert shown["size"] > 1  # a list box: no name hides behind a closed drop-down
    texts = [option["text"] for group in shown["groups"] for option in group["options"]]
    marks = {"draft": " (draft)", "published": ""}
    assert sorted(texts) == sorted(name + marks[status] for _, name, *_, status in DATASETS)
    options = [option for group in shown["groups"] for option in group["options"]]
    assert not [option["text"] for option in options if option["cut"]]
    assert not [group["label"] for group in shown["groups"] if group["cut"]]
    assert not shown["scrolls"]  # the list is as tall as its content
    unwrapped = picker(curator_page, "nowrap")
    assert any(option["cut"] for group in unwrapped["groups"] for option in group["options"])
    picker(curator_page)
    for group in shown["groups"]:
        geometry = group["label"].split(" · ")[-1]
        for option in group["options"]:
            row = next(row for row in DATASETS if option["text"].startswith(row[1]))
            level = row[3][:1].upper() + row[3][1:]
            assert geometry == f"{level} {'LOS ' + row[4] if row[4] else row[5]}"
    curator_page.select_option("#dataset-select", "dax-up")
    curator_page.wait_for_function("() => window.GroundMotion.viewer.dataset === 'dax-up'")


def test_the_picker_groups_by_area_first(curator_page, live_server, datasets) -> None:
    open_map(curator_page, live_server)
    labels = [group["label"] for group in picker(curator_page)["groups"]]
    assert labels == [
        "Dax · L2a LOS ascending",
        "Dax · L2a LOS descending",
        "Dax · L2b LOS ascending",
        "Dax · L3 up-down",
        "Ustica · L2b LOS ascending",
    ]


def test_level_and_component_of_the_fixture_are_what_the_picker_groups_on(datasets) -> None:
    up = Dataset.objects.get(slug="dax-up")
    assert (up.level, up.component, up.status) == (Level.L3, Component.UP_DOWN, Status.DRAFT)
