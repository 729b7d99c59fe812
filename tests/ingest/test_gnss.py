"""ingest_gnss: GAMIT/GLOBK .vel files, station tables and the EGMS GNSS model CSV."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from groundmotion.models import GNSSNetwork, GNSSStation
from tests.real_data import REAL_DATA

REAL = REAL_DATA
needs_real = pytest.mark.skipif(not REAL.exists(), reason="real data folder not present")


@needs_real
@pytest.mark.django_db
def test_euref_vel_file_loads_with_repeated_codes_renamed() -> None:
    call_command(
        "ingest_gnss",
        str(REAL / "ficoro-gnss/euref_all.vel"),
        "--network",
        "euref",
        "--frame",
        "ETRF2000",
    )

    network = GNSSNetwork.objects.get(slug="euref")
    assert network.reference_frame == "ETRF2000"
    assert network.stations.count() == 3047
    assert network.stations.filter(code__endswith="_2").count() > 0
    usix = network.stations.get(code="USIX")
    assert (usix.geom.x, usix.geom.y) == pytest.approx((13.17922, 38.70781), abs=1e-5)
    assert usix.velocity_east == pytest.approx(-0.51, abs=0.006)
    assert usix.velocity_north == pytest.approx(1.82, abs=0.006)
    assert usix.velocity_up == pytest.approx(-0.89, abs=0.006)
    assert usix.velocity_up_std == pytest.approx(0.34, abs=0.006)


@needs_real
@pytest.mark.django_db
def test_serpelloni_longitudes_over_180_are_wrapped() -> None:
    call_command(
        "ingest_gnss", str(REAL / "ficoro-gnss/serpelloni_2022.vel"), "--network", "serpelloni"
    )

    stations = GNSSStation.objects.filter(network__slug="serpelloni")
    assert stations.count() == 3350
    assert max(station.geom.x for station in stations) <= 180
    pale = stations.get(code="PALE")
    assert pale.geom.x == pytest.approx(355.44 - 360, abs=0.01)
    assert stations.get(code="USIX").velocity_east == pytest.approx(22.14, abs=0.006)


@needs_real
@pytest.mark.django_db
def test_station_table_csv_xz() -> None:
    call_command(
        "ingest_gnss", str(REAL / "fatiando-alps-gps/alps-gps-velocity.csv.xz"), "--network", "alps"
    )
    stations = GNSSStation.objects.filter(network__slug="alps")
    assert stations.count() == 186
    acom = stations.get(code="ACOM")
    assert (acom.velocity_east, acom.velocity_north, acom.velocity_up) == (0.2, 1.2, 1.1)
    assert acom.height == pytest.approx(1774.682)


@pytest.mark.django_db
def test_egms_gnss_model_csv_names_nodes_by_grid(tmp_path) -> None:
    path = tmp_path / "EGMS_AEPND_V2023.1.csv"
    path.write_text(
        "Latitude,Longitude,N,E,Up,SigmaN,SigmaE,SigmaUP,easting,northing\n"
        "43.70,-1.05,0.10,-0.20,-1.50,0.05,0.06,0.30,3400000,2300000\n"
        "43.75,-0.40,0.30,0.20,0.50,0.05,0.06,0.20,3450000,2300000\n"
    )
    call_command("ingest_gnss", str(path), "--network", "egms-model")
    node = GNSSStation.objects.get(network__slug="egms-model", code="E3450N2300")
    assert (node.velocity_north, node.velocity_east, node.velocity_up) == (0.3, 0.2, 0.5)
    assert node.velocity_up_std == 0.2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("station,latitude,longitude,east,north\nA,1,2,3,4\n", "missing required column"),
        (
            "station,latitude,longitude,east,north,up\nA,1,2,3,x4,1\n",
            "line 2, column 'north': not a number: 'x4'",
        ),
        (
            "station,latitude,longitude,east,north,up\nA,1,2,3,4,1\nB,95,2,3,4,1\n",
            "line 3, column 'latitude': latitude 95.0 out of range",
        ),
        ("", "empty file"),
        ("station,latitude,longitude,east,north,up\n", "no data rows"),
    ],
)
def test_bad_station_tables_load_nothing(tmp_path, body, expected) -> None:
    path = tmp_path / "stations.csv"
    path.write_text(body)
    with pytest.raises(CommandError, match=expected):
        call_command("ingest_gnss", str(path), "--network", "bad")
    assert not GNSSNetwork.objects.filter(slug="bad").exists()


@pytest.mark.django_db
def test_existing_network_needs_replace(tmp_path) -> None:
    path = tmp_path / "stations.csv"
    path.write_text("station,latitude,longitude,east,north,up\nA,1,2,3,4,1\n")
    call_command("ingest_gnss", str(path), "--network", "net")
    with pytest.raises(CommandError, match="give --replace"):
        call_command("ingest_gnss", str(path), "--network", "net")
    path.write_text("station,latitude,longitude,east,north,up\nA,1,2,3,4,1\nB,1,2,3,4,1\n")
    call_command("ingest_gnss", str(path), "--network", "net", "--replace")
    assert GNSSStation.objects.filter(network__slug="net").count() == 2
