"""Where the raw load spends its time, stage by stage, for one file.

    .venv/bin/python bench/profile_loader.py FILE [--runs 5] [--postgres URL] [--explain]

Each run loads FILE into a fresh warehouse (a DuckDB file in a temp folder, or a
scratch database ``eraflow_profile_<pid>`` on the PostgreSQL server at ``--postgres``,
dropped at the end), calling the loader's own steps in the order ``_ingest_one`` calls
them, and times each: wall clock and CPU seconds of this process (every thread: DuckDB
works on several). Medians over the runs are printed; on a shared machine the CPU column
is the steadier one, and the PostgreSQL server's own work shows only in the wall column.

``--explain`` adds DuckDB's profile of the statement that cuts the file (time per
operator), which is where a change to that SQL shows first.

This script knows the loader's internals (``etl.loader._parse``, ``_quick_check``,
``_stage``, ...): when they change, change it with them. It loads one file, so it does not
show what sharing a transaction saves small files (``_BATCH_ROWS``); time a folder with
``eraflow ingest`` for that.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etl import loader  # noqa: E402
from etl.warehouse import Warehouse  # noqa: E402


class Timer:
    """Wall and CPU seconds per stage, summed within a run, kept per run."""

    def __init__(self):
        self.runs: list[dict[str, tuple[float, float]]] = []
        self.order: list[str] = []

    def start_run(self) -> None:
        self.runs.append(defaultdict(lambda: (0.0, 0.0)))

    @contextlib.contextmanager
    def stage(self, name: str):
        if name not in self.order:
            self.order.append(name)
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            w, c = self.runs[-1][name]
            self.runs[-1][name] = (w + time.perf_counter() - wall,
                                   c + time.process_time() - cpu)

    def report(self, size_mb: float) -> str:
        lines = [f"{'stage':44} {'wall s':>8} {'cpu s':>8}   (median of {len(self.runs)})"]
        total_w = total_c = 0.0
        for name in self.order:
            w = statistics.median(r[name][0] for r in self.runs)
            c = statistics.median(r[name][1] for r in self.runs)
            if not name.startswith(" "):  # "  of which" lines are inside the line above
                total_w, total_c = total_w + w, total_c + c
            lines.append(f"{name:44} {w:8.3f} {c:8.3f}")
        lines.append(f"{'total':44} {total_w:8.3f} {total_c:8.3f}")
        lines.append(f"{size_mb:.1f} MB: {size_mb / total_w:.1f} MB/s wall, "
                     f"{size_mb / total_c:.1f} MB/s per CPU second")
        return "\n".join(lines)


def wrap(timer: Timer, module, name: str, label: str) -> None:
    """Time every call of ``module.name`` as stage ``label``."""
    real = getattr(module, name)

    def timed(*args, **kwargs):
        with timer.stage(label):
            return real(*args, **kwargs)

    setattr(module, name, timed)


def load_once(timer: Timer, wh: Warehouse, path: Path, explain: bool,
              settings: list[str]) -> str:
    """One load of ``path`` through the loader's steps, in the order ``_Loader._load``
    takes them (one file, so no transaction is shared); returns how it ended."""
    with wh.connect() as con:
        for setting in settings if wh.kind == "duckdb" else []:
            name, value = setting.split("=", 1)
            con.execute(f"set {name} = '{value}'")
        with timer.stage("connect, create tables"):
            loader.ensure_schema(con, wh.kind)
            d = loader._Dialect(wh.kind, con)
        try:
            with timer.stage("read, sha256"):
                data = path.read_bytes()
                file_id = loader._sha256(data)
                src = loader._Source(path.name, str(path), path.read_bytes, path, data)
            with timer.stage("parse: decode, interchanges, index (all)"):
                f = loader._parse(data)
            with timer.stage("structure and quick money/date checks"):
                quick = (loader._structure_problem(f.index, f.is835, counted=False) is None
                         and loader._quick_check(d, f))
                if quick:
                    try:
                        loader._validate(d, f, quick=True)
                    except loader._Rejection as exc:
                        return f"rejected: {exc.reason}"
            loader._begin(con, d)
            with explaining(d, explain):
                with timer.stage("cut into rows (raw.segments or _seg)"):
                    loader._stage(con, d, file_id, f, into_table=quick and wh.kind == "duckdb")
            if not quick:
                with timer.stage("slow path: the full rules on _seg"):
                    try:
                        loader._validate(d, f, quick=False)
                    except loader._Rejection as exc:
                        con.rollback()
                        return f"rejected: {exc.reason}"
            loader._commit_file(con, d, src, file_id, "profile", datetime.now(), f)
            with timer.stage("commit"):
                con.commit()
            return "loaded" + ("" if quick else " (slow path)")
        finally:
            d.close()


@contextlib.contextmanager
def explaining(d, on: bool):
    """DuckDB's per-operator profile of the statements run inside, printed after."""
    if not on:
        yield
        return
    out = Path(tempfile.mkdtemp()) / "profile.json"
    d.stage.execute("pragma enable_profiling = 'json'")
    d.stage.execute(f"pragma profiling_output = '{out}'")
    try:
        yield
    finally:
        d.stage.execute("pragma disable_profiling")
    if out.exists():
        print_operators(json.loads(out.read_text()))


def print_operators(profile: dict) -> None:
    """The operator tree of a DuckDB JSON profile (the key names changed across DuckDB
    versions; both spellings are read)."""
    def walk(node: dict, depth: int) -> None:
        name = node.get("name") or node.get("operator_name") or node.get("operator_type")
        seconds = node.get("timing", node.get("operator_timing", 0.0))
        rows = node.get("intermediate_rows", node.get("operator_cardinality", 0))
        if name:
            print(f"  {'  ' * depth}{name.strip():32} {seconds:8.3f} s {rows:>10,} rows")
        for child in node.get("children", []):
            walk(child, depth + 1)

    print("DuckDB operators of the cut (the last statement inside):")
    for node in profile.get("operator", [profile]):
        walk(node, 0)


def scratch_postgres(url: str):
    """A fresh database on the server at ``url``; returns (warehouse URL, drop)."""
    import psycopg2

    u = urlparse(url)
    name = f"eraflow_profile_{os.getpid()}"

    def admin():
        con = psycopg2.connect(host=u.hostname or "127.0.0.1", port=u.port or 5432,
                               user=u.username or "postgres", password=u.password or None,
                               dbname=(u.path or "/").lstrip("/") or "postgres")
        con.autocommit = True
        return con

    with contextlib.closing(admin()) as con:
        con.cursor().execute(f"drop database if exists {name} with (force)")
        con.cursor().execute(f"create database {name}")

    def drop() -> None:
        with contextlib.closing(admin()) as con:
            con.cursor().execute(f"drop database if exists {name} with (force)")

    return urlunparse(u._replace(path="/" + name)), drop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", help="server URL, e.g. postgresql://postgres@127.0.0.1/")
    parser.add_argument("--explain", action="store_true",
                        help="print DuckDB's operator profile of the cut (first run)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a DuckDB setting for the warehouse connection, to try one "
                             "(e.g. --set threads=1); repeatable")
    args = parser.parse_args(argv)

    timer = Timer()
    wrap(timer, loader, "decode", "  of which decode")
    wrap(timer, loader, "split_interchanges", "  of which interchanges, delimiters")
    wrap(timer, loader, "index_segments", "  of which segment index (numpy)")
    wrap(timer, loader, "_commit_file", "staged rows, keys, findings, manifest")
    wrap(timer, loader, "_write_staged", "  of which staged rows (COPY or insert)")
    wrap(timer, loader, "_payment_keys", "  of which payment keys (Python)")
    wrap(timer, loader, "_envelope_findings", "  of which envelope findings (Python)")

    for n in range(args.runs):
        timer.start_run()
        drop = None
        with tempfile.TemporaryDirectory() as tmp:
            if args.postgres:
                url, drop = scratch_postgres(args.postgres)
            else:
                url = str(Path(tmp) / "w.duckdb")
            try:
                outcome = load_once(timer, Warehouse.from_url(url), args.file,
                                    args.explain and n == 0, args.set)
            finally:
                if drop:
                    drop()
        print(f"run {n + 1}: {outcome}", file=sys.stderr)

    print(timer.report(args.file.stat().st_size / 1e6))
    return 0


if __name__ == "__main__":
    sys.exit(main())
