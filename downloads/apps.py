from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# GROUNDMOTION settings this app owns: all positive integers.
DOWNLOAD_SETTINGS = (
    "DOWNLOAD_MAX_AREA_KM2",
    "DOWNLOAD_MAX_POINTS",
    "DOWNLOAD_SYNC_POINTS",
    "DOWNLOAD_DAILY_REQUESTS",
    "DOWNLOAD_DAILY_POINTS",
    "LOGIN_FAILURE_LIMIT",
    "LOGIN_FAILURE_WINDOW_S",
)


def validate_download_settings(config: dict) -> None:
    """Checked at start-up, not when the first download needs them."""
    for name in DOWNLOAD_SETTINGS:
        value = config.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ImproperlyConfigured(f"GROUNDMOTION['{name}'] must be a positive integer")


class DownloadsConfig(AppConfig):
    name = "downloads"
    verbose_name = "Downloads"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        validate_download_settings(settings.GROUNDMOTION)
