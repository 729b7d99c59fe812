from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

REQUIRED_SETTINGS = {
    "POINT_ZOOM": int,
    "TILE_STATEMENT_TIMEOUT_MS": int,
    "BASEMAP_URL": str,
}
# Checked when present; groundmotion/tile_views.py falls back to its own default.
OPTIONAL_SETTINGS = {
    "TILE_CACHE_SECONDS": int,
    "TILE_LOCAL_CACHE_MB": int,
    "PUBLIC_TILE_LOOKUP_MS": int,
    # Falling back to groundmotion/cells.py's defaults.
    "REDUCED_CELL_M": int,
    "REDUCED_MIN_POINTS": int,
    "BASEMAP_ATTRIBUTION": str,
    "GEOCODER_URL": str,
}


def validate_settings(config: dict) -> None:
    """GROUNDMOTION settings are checked at start-up, not when a tile first needs them."""
    for name, kind in REQUIRED_SETTINGS.items():
        if not isinstance(config.get(name), kind):
            raise ImproperlyConfigured(f"GROUNDMOTION['{name}'] must be a {kind.__name__}")
    for name, kind in OPTIONAL_SETTINGS.items():
        if name in config and not isinstance(config[name], kind):
            raise ImproperlyConfigured(f"GROUNDMOTION['{name}'] must be a {kind.__name__}")
    if not 0 <= config["POINT_ZOOM"] <= 22:
        raise ImproperlyConfigured("GROUNDMOTION['POINT_ZOOM'] must be between 0 and 22")
    geocoder = config.get("GEOCODER_URL", "")
    if geocoder and not (geocoder.startswith(("https://", "http://")) and "{q}" in geocoder):
        raise ImproperlyConfigured(
            "GROUNDMOTION['GEOCODER_URL'] must be an http(s) URL with {q} where the text goes"
        )
    validate_reduced_settings(config)


def validate_reduced_settings(config: dict) -> None:
    """A floor the cell pyramid can honour at every latitude, and at least one point a cell."""
    from groundmotion import cells  # imports models: only once the apps are ready

    floor_m = config.get("REDUCED_CELL_M", cells.REDUCED_MINIMUM_CELL_M)
    if not 1 <= floor_m <= cells.MAX_REDUCED_CELL_M:
        raise ImproperlyConfigured(
            f"GROUNDMOTION['REDUCED_CELL_M'] must be between 1 and {cells.MAX_REDUCED_CELL_M}"
        )
    if config.get("REDUCED_MIN_POINTS", cells.REDUCED_MINIMUM_POINTS) < 1:
        raise ImproperlyConfigured("GROUNDMOTION['REDUCED_MIN_POINTS'] must be at least 1")


class GroundmotionConfig(AppConfig):
    name = "groundmotion"
    verbose_name = "Ground motion"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import pre_delete

        from groundmotion.models import Dataset
        from groundmotion.storage import partitions

        validate_settings(settings.GROUNDMOTION)
        pre_delete.connect(partitions.drop_with_dataset, sender=Dataset)
