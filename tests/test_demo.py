"""The demo's guard against a kept warehouse that no longer matches the bundled samples
(they are regenerated when the generator changes; the old copies would then be the same
payments twice, and the findings no longer those of PLANTED.json)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from etl.demo import _stale_warehouse

SAMPLES = Path(__file__).resolve().parents[1] / "sample_data" / "era"


def _warehouse(path: Path, file_ids: list[str]) -> str:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
        con.execute("create table raw.file_manifest (file_id varchar, status varchar)")
        for file_id in file_ids:
            con.execute("insert into raw.file_manifest values (?, 'loaded')", [file_id])
    return str(path)


def test_a_warehouse_of_todays_samples_is_kept_and_any_other_file_makes_it_stale(tmp_path):
    bundled = sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in SAMPLES.glob("*.835"))
    assert len(bundled) == 7
    assert _stale_warehouse(_warehouse(tmp_path / "same.duckdb", bundled), SAMPLES) is None
    old = _warehouse(tmp_path / "old.duckdb", bundled[:3] + ["0" * 64, "1" * 64])
    assert _stale_warehouse(old, SAMPLES) == (
        "the demo warehouse holds 2 file(s) other than today's bundled samples")
    assert _stale_warehouse(str(tmp_path / "none.duckdb"), SAMPLES) is None
    assert not (tmp_path / "none.duckdb").exists()
