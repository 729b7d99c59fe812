"""The real Celery worker of the fault suite (tests/faults/conftest.py), for the journey."""

from tests.faults.conftest import plan, send_to_worker, start_worker  # noqa: F401
