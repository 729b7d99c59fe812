"""The web processes' Prometheus metrics: requests by route kind, tile cache lookups.

Requests are counted by route kind and status class, never by raw path: a path carries slugs,
point ids and tile addresses, and one label value each would grow without bound.

Under gunicorn each worker process counts its own requests. With PROMETHEUS_MULTIPROC_DIR set
(an empty directory, wiped before each start of the server), prometheus-client keeps the values
in files there and a scrape, whichever worker answers it, sums them over every process, dead
ones included (counters and histograms only: there are no per-process gauges here). Without it
a scrape shows the answering process alone: fine for runserver and a single worker.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram, disable_created_metrics

# The `_created` series (when each label set first appeared) double the exposition and no
# dashboard reads them.
disable_created_metrics()

# Path prefixes and their route kind; the first match wins, anything else is a page.
ROUTE_KINDS = (
    ("/tiles/", "tiles"),
    ("/api/", "api"),
    ("/ogc/", "ogc"),
    ("/admin/", "admin"),
    ("/static/", "static"),
    ("/accounts/", "accounts"),
    ("/downloads/", "downloads"),
)
OPERATIONS_PATHS = ("/healthz", "/readyz", "/metrics")
# Seconds; tiles from the caches take ~1 ms, an uncached z13 tile tens of ms, plots and
# exports up to seconds.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "groundmotion_http_requests",
    "HTTP requests answered, by route kind and status class (2xx, 3xx, 4xx, 5xx)",
    ["kind", "status"],
)
LATENCY = Histogram(
    "groundmotion_http_request_duration_seconds",
    "Time from the request reaching Django to its response (first byte for streams)",
    ["kind"],
    buckets=LATENCY_BUCKETS,
)
TILE_CACHE = Counter(
    "groundmotion_tile_cache_lookups",
    "Tile cache lookups by tier (local: the process's LRU, shared: the Django cache) and result",
    ["tier", "result"],
)


def route_kind(path: str) -> str:
    if path in OPERATIONS_PATHS:
        return "operations"
    for prefix, kind in ROUTE_KINDS:
        if path.startswith(prefix):
            return kind
    return "page"


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def observe_request(kind: str, status: int, seconds: float) -> None:
    REQUESTS.labels(kind, status_class(status)).inc()
    LATENCY.labels(kind).observe(seconds)


# Bound once: the tile path counts two lookups a request, and `labels()` costs a lock and a
# dictionary lookup each time.
TILE_LOOKUPS = {
    (tier, hit): TILE_CACHE.labels(tier, "hit" if hit else "miss")
    for tier in ("local", "shared")
    for hit in (True, False)
}


def count_tile_lookup(tier: str, hit: bool) -> None:
    """One lookup in a tile cache tier (groundmotion/tile_views.py)."""
    TILE_LOOKUPS[tier, hit].inc()
