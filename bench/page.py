"""bench/page: the viewer as a user meets it, timed in headless Chromium on 10^6 points.

  BENCH_PAGE_POINTS   points per track for make_demo (default 500,000: 10^6 in all)
  BENCH_PAGE_RUNS     cold page loads and clicks measured (default 5)

Three timings, each against the issue's target (no peer viewer runs offline here, so the
printed ratio is measured / target; below 1.0 meets it):
  first map   navigation start to the first dataset features drawn, and to every tile of the
              first view loaded (the tile layer's `load`), each in a fresh browser context
  chart       the click on a point at the point zoom to its series chart in the panel
  zoom frames requestAnimationFrame intervals while zooming in and out through four levels
              (cells and points), p95 and the worst; then the same zooms again, their tiles
              now in the browser's cache. The server renders new tiles on the same 2 cores as
              Chromium, which costs the first pass frames a separate server would not
Chromium runs headless without a GPU (software raster), as in CI: a desktop with a GPU only
does better. The server is gunicorn with 4 workers, DEBUG off, tile caches off (every tile
is rendered by PostGIS).
"""

from __future__ import annotations

import os
import statistics
import subprocess

import psycopg

from bench import _tile_data as data
from bench import _tile_servers as servers

DATABASE = "bench_page"
PORT = 8391
TARGETS_MS = {"first map": 1500.0, "chart": 300.0, "zoom frame p95": 50.0}

# Runs in the page: resolves when the first dataset layer has drawn and loaded its tiles.
WAIT_FOR_MAP = """() => new Promise((resolve, reject) => {
  setTimeout(() => reject(new Error("the map did not load within 30 s")), 30000);
  const check = () => {
    const viewer = window.GroundMotion && window.GroundMotion.viewer;
    if (!viewer || !viewer.layer) return setTimeout(check, 5);
    const drawn = () => Object.values(viewer.styled).reduce((a, b) => a + b, 0) > 0;
    let first = null;
    const poll = () => { if (first === null && drawn()) first = performance.now(); };
    const timer = setInterval(poll, 2);
    const done = () => {
      poll(); clearInterval(timer); resolve({first: first, loaded: performance.now()});
    };
    if (viewer.layer._loading === false && drawn()) return done();
    viewer.layer.once("load", done);
  };
  check();
})"""

# Frame intervals (ms) while the map zooms in `steps` levels and back, one level at a time.
ZOOM_FRAMES = """(steps) => new Promise((resolve) => {
  const map = window.GroundMotion.viewer.map;
  const layer = window.GroundMotion.viewer.layer;
  const frames = [];
  let last = performance.now(), running = true;
  const tick = (now) => {
    frames.push(now - last); last = now; if (running) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  const zooms = [];
  const start = map.getZoom();
  for (let i = 1; i <= steps; i++) zooms.push(start + i);
  for (let i = steps - 1; i >= 0; i--) zooms.push(start + i);
  const next = () => {
    if (!zooms.length) { running = false; resolve(frames.slice(1)); return; }
    const zoom = zooms.shift();
    let waiting = 2;
    const one = () => { waiting -= 1; if (waiting === 0) setTimeout(next, 50); };
    map.once("zoomend", one);
    layer.once("load", one);
    map.setZoom(zoom, {animate: true});
  };
  next();
})"""

# Watches the panel for the chart (window.__chartMs: ms from window.__clickAt) and gives the
# pixel of the point to click.
WATCH_FOR_CHART = """([lat, lon]) => {
  const viewer = window.GroundMotion.viewer;
  const chart = document.querySelector(".panel-chart");
  chart.replaceChildren();
  window.__chartMs = undefined;
  const observer = new MutationObserver(() => {
    if (!chart.querySelector("svg")) return;
    observer.disconnect();
    window.__chartMs = performance.now() - window.__clickAt;
  });
  observer.observe(chart, {childList: true, subtree: true});
  const point = viewer.map.latLngToContainerPoint([lat, lon]);
  const box = viewer.map.getContainer().getBoundingClientRect();
  return {x: box.left + point.x, y: box.top + point.y};
}"""


def sample_points(url: str, count: int) -> list[tuple[float, float]]:
    """(lat, lon) of points spread over the first dataset, by a fixed sample."""
    with psycopg.connect(data.plain(url)) as connection:
        rows = connection.execute(
            "SELECT ST_Y(p.geom), ST_X(p.geom) FROM groundmotion_measurementpoint p"
            " JOIN groundmotion_dataset d ON d.id = p.dataset_id"
            " WHERE d.slug = %s ORDER BY p.id LIMIT %s OFFSET 1000",
            [data.SLUGS[0], count * 997],
        ).fetchall()
    return rows[::997][:count]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def first_map(browser, base: str, runs: int) -> tuple[list[float], list[float]]:
    drawn, loaded = [], []
    for _ in range(runs):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(base + "/map/", wait_until="commit")
        timing = page.evaluate(WAIT_FOR_MAP)
        drawn.append(timing["first"])
        loaded.append(timing["loaded"])
        context.close()
    return drawn, loaded


def chart_times(browser, base: str, points: list[tuple[float, float]], zoom: int) -> list[float]:
    times = []
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    for lat, lon in points:
        page.goto(f"{base}/map/#dataset={data.SLUGS[0]}&lat={lat:.6f}&lon={lon:.6f}&z={zoom}")
        page.reload()  # a hash change alone does not re-read the URL state
        page.evaluate(WAIT_FOR_MAP)
        target = page.evaluate(WATCH_FOR_CHART, [lat, lon])
        page.evaluate("window.__clickAt = performance.now()")
        page.mouse.click(target["x"], target["y"])
        page.wait_for_function("window.__chartMs !== undefined", timeout=10_000)
        times.append(page.evaluate("window.__chartMs"))
    context.close()
    return times


def zoom_frames(browser, base: str) -> tuple[list[float], list[float]]:
    """Frame intervals of the zooms with every tile new, then again over the same zooms
    (tiles from the browser's cache: no server work on the shared cores)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(base + "/map/")
    page.evaluate(WAIT_FOR_MAP)
    cold = page.evaluate(ZOOM_FRAMES, 4)
    warm = page.evaluate(ZOOM_FRAMES, 4)
    context.close()
    return cold, warm


def report(name: str, value: float, detail: str) -> None:
    target = TARGETS_MS[name]
    print(
        f"page {name:<15} {value:8.0f} ms   target {target:6.0f} ms   "
        f"ratio {value / target:4.2f}   ({detail})",
        flush=True,
    )


def main() -> None:
    from playwright.sync_api import sync_playwright

    from tests.viewer.browser import launch_chromium

    points = int(os.environ.get("BENCH_PAGE_POINTS", "500000"))
    runs = int(os.environ.get("BENCH_PAGE_RUNS", "5"))
    previous_url = os.environ.get("DATABASE_URL")
    url = data.ensure_database(points, DATABASE)
    if previous_url is not None:
        os.environ["DATABASE_URL"] = previous_url
    total = data.point_total(url)
    environment = {
        "DATABASE_URL": url,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "GROUNDMOTION_TILE_CACHE_SECONDS": "0",
    }
    subprocess.run(
        [str(data.ROOT / ".venv" / "bin" / "python"), "manage.py", "collectstatic", "--noinput"],
        env={**os.environ, **environment},
        cwd=data.ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    gunicorn = [str(data.ROOT / ".venv" / "bin" / "gunicorn"), "config.wsgi", "-w", "4"]
    base = f"http://127.0.0.1:{PORT}"
    print(f"bench/page: {total:,} points, {runs} cold loads, Chromium headless", flush=True)
    serving = servers.server([*gunicorn, "-b", f"127.0.0.1:{PORT}"], environment, base + "/map/")
    with serving, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        first_map(browser, base, 1)  # the server's first requests compile its statements
        drawn, loaded = first_map(browser, base, runs)
        charts = chart_times(browser, base, sample_points(url, runs), 16)
        frames, cached = zoom_frames(browser, base)
        browser.close()
    report(
        "first map",
        statistics.median(loaded),
        f"median of {runs}; first features drawn at {statistics.median(drawn):.0f} ms, "
        f"all tiles of the view loaded at {statistics.median(loaded):.0f} ms; worst "
        f"{max(loaded):.0f} ms",
    )
    report("chart", statistics.median(charts), f"median of {runs}; worst {max(charts):.0f} ms")
    for name, values in (("zoom frame p95", frames), ("zoom frame p95", cached)):
        kind = "new tiles, rendered by the server" if values is frames else "tiles cached"
        report(
            name,
            percentile(values, 0.95),
            f"{kind}: {len(values)} frames over 4 zooms in and out; median "
            f"{statistics.median(values):.0f} ms, worst {max(values):.0f} ms",
        )


if __name__ == "__main__":
    main()
