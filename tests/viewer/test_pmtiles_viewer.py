"""The viewer reads a public dataset's tiles from its static PMTiles archive when
GROUNDMOTION_PMTILES_URL is set (docs/static-tiles.md): the archive comes from another server
(a CDN's stand-in, answering HTTP Range requests), no /tiles/ request is made for the dataset,
and a click on a point still asks the API. Signed-in users keep the live endpoint."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from tests.factories import make_dataset, make_user
from tests.viewer.browser import click_location, wait_for_idle_database, wait_for_points

pytestmark = [pytest.mark.browser]
GRID = np.arange(12)
LON, LAT = np.repeat(-1.06 + GRID * 0.0019, 12), np.tile(43.70 + GRID * 0.00135, 12)
RANGE = re.compile(r"bytes=(\d+)-(\d+)")


def range_handler(directory: Path, seen: list[str]) -> type[BaseHTTPRequestHandler]:
    class RangeHandler(BaseHTTPRequestHandler):
        """Byte ranges of the files in `directory`, with CORS, as object stores serve them."""

        def cors(self) -> None:
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Headers", "Range, If-Match")
            self.send_header("Access-Control-Expose-Headers", "ETag, Content-Range, Content-Length")

        def do_OPTIONS(self) -> None:
            self.send_response(204)
            self.cors()
            self.end_headers()

        def do_GET(self) -> None:
            seen.append(self.path)
            path = directory / self.path.lstrip("/")
            if not path.is_file():
                self.send_error(404)
                return
            body = path.read_bytes()
            match = RANGE.fullmatch(self.headers.get("Range", ""))
            if match is None:
                self.send_error(416)
                return
            start, end = int(match[1]), min(int(match[2]), len(body) - 1)
            self.send_response(206)
            self.cors()
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
            self.send_header("Content-Length", str(end - start + 1))
            self.send_header("ETag", '"archive-1"')
            self.end_headers()
            self.wfile.write(body[start : end + 1])

        def log_message(self, *args: object) -> None:
            pass

    return RangeHandler


@pytest.fixture
def archive_server(tmp_path) -> Iterator[tuple[str, Path, list[str]]]:
    """(base URL, directory, paths asked) of a Range server on a free port."""
    seen: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), range_handler(tmp_path, seen))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", tmp_path, seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser, live_server, transactional_db):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    page.goto("about:blank")
    context.close()
    wait_for_idle_database()


def fragment(zoom: int) -> str:
    return f"#dataset=static&lat={LAT.mean():.5f}&lon={LON.mean():.5f}&z={zoom}"


def requests_of(page) -> list[str]:
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


def test_points_come_from_the_archive_and_clicks_from_the_api(
    page, live_server, archive_server, settings
) -> None:
    base, directory, seen = archive_server
    make_dataset("static", lon=LON, lat=LAT, velocity=np.repeat(GRID - 6.0, 12))
    call_command("export_pmtiles", "static", str(directory / "static.pmtiles"), "--maxzoom", "15")
    settings.GROUNDMOTION_PMTILES_URL = base
    urls = requests_of(page)
    page.goto(f"{live_server.url}/map/{fragment(15)}")
    page.wait_for_selector("body[data-viewer-ready=true]")
    wait_for_points(page, "static")
    assert page.evaluate("() => window.GroundMotion.viewer.shown.drawn") > 0
    assert seen and all(path == "/static.pmtiles" for path in seen)
    assert not [url for url in urls if "/tiles/static/" in url]
    click_location(page, LON[40], LAT[40])
    page.wait_for_selector("#side-panel svg.series-chart")
    assert [url for url in urls if "/api/points/" in url]


def test_signed_in_users_keep_the_live_endpoint(
    page, live_server, archive_server, settings
) -> None:
    base, directory, seen = archive_server
    make_dataset("static", lon=LON, lat=LAT, velocity=np.repeat(GRID - 6.0, 12))
    call_command("export_pmtiles", "static", str(directory / "static.pmtiles"), "--maxzoom", "15")
    settings.GROUNDMOTION_PMTILES_URL = base
    make_user("reader")
    urls = requests_of(page)
    page.goto(f"{live_server.url}/accounts/login/?next=/map/")
    page.fill("#id_username", "reader")
    page.fill("#id_password", "a-long-password-1")  # tests/factories.make_user's
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/map/")
    page.goto(f"{live_server.url}/map/{fragment(15)}")
    page.wait_for_selector("body[data-viewer-ready=true]")
    wait_for_points(page, "static")
    assert [url for url in urls if "/tiles/static/" in url]
    assert seen == []


def test_the_vendored_pmtiles_is_the_pinned_npm_build() -> None:
    root = Path(__file__).resolve().parents[2]
    package = json.loads((root / "package.json").read_text())
    version = package["devDependencies"]["pmtiles"]
    folder = root / "static" / "vendor" / f"pmtiles-{version}"
    assert {path.name for path in folder.iterdir()} == {"LICENCE", "LICENCE-fflate", "pmtiles.js"}
    assert "Redistribution and use" in (folder / "LICENCE").read_text()
    npm = root / "node_modules" / "pmtiles" / "dist" / "pmtiles.js"
    if npm.exists():  # where `npm ci` ran: npm's file less its source-map comment
        built = npm.read_text().rsplit("//# sourceMappingURL=", 1)[0]
        assert (folder / "pmtiles.js").read_text().rstrip("\n") == built.rstrip("\n")
