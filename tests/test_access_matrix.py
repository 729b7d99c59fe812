"""The access matrix: every endpoint of issue 6 x every user class x every visibility case.

Each row is a function (client, dataset, user, case) that makes the request and asserts the
outcome the tables in tests/matrix.py prescribe. Add rows to ENDPOINTS for new endpoints.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from django.test import Client

from groundmotion.models import Dataset, DownloadRecord
from tests.matrix import BBOX, CASES, DOWNLOAD, USERS, VISIBLE, build_case, expected_pids


def response_text(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def api_download(client: Client, dataset: Dataset, user: str, case: str) -> None:
    response = client.get(f"/api/downloads/{dataset.slug}/", {"output": "csv", "bbox": BBOX})
    text = response_text(response)
    if user == "anonymous":
        assert response.status_code == 401 and "Sign in" in text
    elif user not in VISIBLE[case]:
        assert response.status_code == 404 and dataset.slug not in text
    elif user not in DOWNLOAD[case]:
        assert response.status_code == 403 and "download permission" in text
    else:
        assert response.status_code == 200
        pids = {row["pid"] for row in csv.DictReader(io.StringIO(text))}
        assert pids == expected_pids(dataset, case)  # no masked point leaves
        record = DownloadRecord.objects.get()
        assert record.point_count == len(pids) and record.byte_count == len(text.encode())
        return
    assert not DownloadRecord.objects.exists()


def dialog_offer(client: Client, dataset: Dataset, user: str, case: str) -> None:
    response = client.get("/downloads/")
    if user == "anonymous":
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        return
    assert response.status_code == 200
    offered = f'value="{dataset.slug}"' in response.content.decode()
    assert offered == (user in DOWNLOAD[case])


def dialog_post(client: Client, dataset: Dataset, user: str, case: str) -> None:
    data = {"dataset": dataset.slug, "format": "csv", "bbox": BBOX, "polygon": ""}
    response = client.post("/downloads/", data)
    if user == "anonymous":
        assert response.status_code == 302
    elif user not in DOWNLOAD[case]:
        # The dataset is not among the choices: refused without saying whether it exists.
        assert response.status_code == 400 and "Select a valid choice" in response_text(response)
    else:
        assert response.status_code == 200
        pids = {row["pid"] for row in csv.DictReader(io.StringIO(response_text(response)))}
        assert pids == expected_pids(dataset, case)


def profile_page(client: Client, dataset: Dataset, user: str, case: str) -> None:
    response = client.get("/accounts/profile/")
    if user == "anonymous":
        assert response.status_code == 302
        return
    html = response.content.decode()
    assert response.status_code == 200
    assert (f'data-slug="{dataset.slug}"' in html) == (user in VISIBLE[case])


def admin_change(client: Client, dataset: Dataset, user: str, case: str) -> None:
    response = client.get(f"/admin/groundmotion/dataset/{dataset.pk}/change/")
    if user == "curator":
        assert response.status_code == 200 and dataset.slug in response.content.decode()
    else:
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def admin_audit(client: Client, dataset: Dataset, user: str, case: str) -> None:
    response = client.get("/admin/groundmotion/downloadrecord/")
    # Curators in the test cast have change_dataset only: the audit needs its own permission.
    assert response.status_code == (403 if user == "curator" else 302)


ENDPOINTS: dict[str, Callable] = {
    "api-download": api_download,
    "dialog-offer": dialog_offer,
    "dialog-post": dialog_post,
    "profile": profile_page,
    "admin-change": admin_change,
    "admin-audit": admin_audit,
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_access_matrix(request, client, partners, endpoint: str, user: str, case: str) -> None:
    dataset = build_case(case)
    account = request.getfixturevalue(user)
    if user != "anonymous":
        client.force_login(account)
    ENDPOINTS[endpoint](client, dataset, user, case)


def test_matrix_size() -> None:
    """Reported in the issue: endpoints x users x cases."""
    assert len(ENDPOINTS) * len(USERS) * len(CASES) == 6 * 5 * 8
