"""Ingest of an EGMS CSV, three contenders in one run, into a scratch database (bench_ingest).

Usage: .venv/bin/python -m bench ingest
  BENCH_INGEST_POINTS  points in the EGMS CSV (default 1,000,000), 170 dates, L2b columns
  BENCH_PANDAS_POINTS  rows given to pandas/geopandas to_postgis (default 100,000: it is slow)
  BENCH_LARGE_POINTS   also ingest this many points (e.g. 10,000,000) through a FIFO that
                       repeats the file with new pids, and extrapolate to 100 million (0: skip)

Contenders: our `manage.py ingest` (parse, check, binary COPY of points into the dataset's
own unindexed partition and of series and extras, then the partition's indexes built and
attached: groundmotion/storage/partitions.py); psql `\\copy` of the same rows into a bare table with
a float4[] series and no index (the floor); pandas.read_csv + geopandas.to_postgis of a wide
table (what a user would otherwise write). Generated files are cached under var/bench/.
"""

from __future__ import annotations

import datetime
import os
import resource
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench._scratch import ROOT, Runner, scratch_database
from fixtures import demo_region
from groundmotion import egms

DATES = [datetime.date(2021, 1, 3) + datetime.timedelta(days=6 * i) for i in range(170)]
FOLDER = ROOT / "var" / "bench"
CHUNK = 100_000


def chunk_frames(points: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(static columns, series) frames of the demo track, chunk by chunk, rounded like EGMS."""
    track = demo_region.TRACKS[0]
    for chunk in demo_region.generate_track(track, points, DATES, seed=7, chunk=CHUNK):
        n = len(chunk["pid"])
        attributes = chunk["attributes"].items()
        statics = {egms.EGMS_NAME_OF_FIELD[k]: np.round(v, 4) for k, v in attributes}
        statics.update(
            pid=chunk["pid"],
            latitude=np.round(chunk["lat"], 6),
            longitude=np.round(chunk["lon"], 6),
            easting=np.full(n, 3_400_000.25),
            northing=np.full(n, 2_300_000.5),
            height_wgs84=np.round(statics["height"] + 50, 1),
            line=np.arange(n) % 1500,
            pixel=np.arange(n) % 20000,
        )
        names = egms.static_columns("l2b")
        series = np.round(chunk["series"].astype(np.float64), 1)
        yield pd.DataFrame({name: statics[name] for name in names}), pd.DataFrame(series)


def write_files(points: int) -> tuple[Path, Path]:
    """The EGMS CSV and the floor's CSV (same rows, series as one {..} array literal)."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    egms_path = FOLDER / f"EGMS_L2b_132_0282_IW2_VV_2021_2023_{points}.csv"
    floor_path = FOLDER / f"floor_{points}.csv"
    if egms_path.exists() and floor_path.exists():
        return egms_path, floor_path
    dates = [d.strftime("%Y%m%d") for d in DATES]
    with egms_path.open("w") as egms_file, floor_path.open("w") as floor_file:
        for index, (statics, series) in enumerate(chunk_frames(points)):
            wide = pd.concat([statics, series.set_axis(dates, axis=1)], axis=1)
            wide.to_csv(egms_file, index=False, header=index == 0, lineterminator="\n")
            static_lines = statics.to_csv(index=False, header=False).splitlines()
            series_lines = series.to_csv(index=False, header=False).splitlines()
            floor_file.writelines(
                f'{s},"{{{v}}}"\n' for s, v in zip(static_lines, series_lines, strict=True)
            )
    return egms_path, floor_path


def run_ours(run: Runner, path: Path, slug: str) -> tuple[float, float]:
    """(seconds, peak resident MiB) of `manage.py ingest` in a child process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            "/usr/bin/time",
            "-f",
            "%M",
            str(ROOT / ".venv/bin/python"),
            str(ROOT / "manage.py"),
            "ingest",
            str(path),
            "--dataset",
            slug,
            "--level",
            "l2b",
        ],
        env=run.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, err = process.communicate()
    elapsed = time.perf_counter() - started
    if process.returncode:
        raise RuntimeError(err)
    return elapsed, int(err.strip().splitlines()[-1]) / 1024


def run_floor(run: Runner, path: Path) -> float:
    static = ", ".join(f"{name} real" for name in egms.static_columns("l2b")[1:])
    run.sql(f"CREATE TABLE floor (pid text, {static}, series real[])")
    url = run.url.replace("postgis://", "postgresql://")
    started = time.perf_counter()
    subprocess.run(["psql", url, "-qc", f"\\copy floor FROM '{path}' (FORMAT csv)"], check=True)
    return time.perf_counter() - started


def run_pandas(run: Runner, path: Path, rows: int) -> float:
    """read_csv + GeoDataFrame + to_postgis (wide table), as a user would write it."""
    import geopandas
    import sqlalchemy

    engine = sqlalchemy.create_engine(run.url.replace("postgis://", "postgresql+psycopg://"))
    started = time.perf_counter()
    for index, frame in enumerate(pd.read_csv(path, chunksize=50_000, nrows=rows)):
        points = geopandas.points_from_xy(frame["longitude"], frame["latitude"], crs=4326)
        layer = geopandas.GeoDataFrame(frame, geometry=points)
        layer.to_postgis("pandas_points", engine, if_exists="replace" if index == 0 else "append")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE INDEX ON pandas_points USING gist (geometry)")
    engine.dispose()
    return time.perf_counter() - started


def feed_fifo(fifo: Path, source: Path, repeats: int) -> None:
    """Write the source `repeats` times into the FIFO, each copy's pids prefixed anew."""
    with fifo.open("wb") as out, source.open("rb") as first:
        out.write(first.readline())
        for repeat in range(repeats):
            prefix = f"r{repeat}".encode()
            with source.open("rb") as stream:
                stream.readline()
                while block := stream.read(16 << 20):
                    block += stream.readline()
                    out.write(prefix + block[:-1].replace(b"\n", b"\n" + prefix) + b"\n")


def run_large(run: Runner, source: Path, points: int, base: int) -> None:
    repeats = max(points // base, 1)
    fifo = FOLDER / f"EGMS_L2b_132_0282_IW2_VV_2021_2023_fifo{os.getpid()}.csv"
    os.mkfifo(fifo)
    feeder = threading.Thread(target=feed_fifo, args=(fifo, source, repeats))
    try:
        feeder.start()
        seconds, memory = run_ours(run, fifo, "bench-large")
        feeder.join()
    finally:
        fifo.unlink()
    count = repeats * base
    hours = 100e6 / (count / seconds) / 60
    print(
        f"large: ours {count:,} points in {seconds:.0f} s = {count / seconds:,.0f} points/s, "
        f"peak {memory:.0f} MiB; 100 million at that rate: {hours:.0f} min (target < 45)"
    )


def main() -> None:
    points = int(os.environ.get("BENCH_INGEST_POINTS", "1000000"))
    pandas_rows = min(int(os.environ.get("BENCH_PANDAS_POINTS", "100000")), points)
    large = int(os.environ.get("BENCH_LARGE_POINTS", "0"))
    started = time.perf_counter()
    egms_path, floor_path = write_files(points)
    print(
        f"files: {egms_path.stat().st_size / 1e6:,.0f} MB EGMS CSV, {points:,} points x "
        f"{len(DATES)} dates ({time.perf_counter() - started:.0f} s to write or reuse)"
    )
    with scratch_database("bench_ingest") as run:
        ours, memory = run_ours(run, egms_path, "bench")
        floor = run_floor(run, floor_path)
        pandas_seconds = run_pandas(run, egms_path, pandas_rows)
        rates = {
            "ours": points / ours,
            "floor": points / floor,
            "pandas": pandas_rows / pandas_seconds,
        }
        print(f"ours   {rates['ours']:>10,.0f} points/s  ({ours:.1f} s, peak {memory:.0f} MiB)")
        print(f"floor  {rates['floor']:>10,.0f} points/s  ({floor:.1f} s, psql \\copy, no index)")
        print(
            f"pandas {rates['pandas']:>10,.0f} points/s  ({pandas_seconds:.1f} s for "
            f"{pandas_rows:,} rows, geopandas.to_postgis)"
        )
        print(
            f"ratios: ours/floor {rates['ours'] / rates['floor']:.2f} (target >= 0.5), "
            f"ours/pandas {rates['ours'] / rates['pandas']:.1f} (target >= 5), "
            f"ours {rates['ours']:,.0f} points/s (target >= 60,000)"
        )
        print(
            f"peak memory of ours: {memory:.0f} MiB; self rusage "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
        )
        if large:
            run_large(run, egms_path, large, points)
