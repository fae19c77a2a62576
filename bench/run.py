"""The eraflow benchmark: speed and memory of the pipeline, against the alternatives.

One command (``.venv/bin/python bench/run.py``, or ``make bench``) generates a
deterministic ERA set with ``etl.generator`` (50 MB by default, ``--size 1GB``), then,
for ``--runs`` rounds, measures on those same files:

- ``eraflow ingest``: local files to raw segments committed in DuckDB, and in
  PostgreSQL when a server answers at ``--postgres``;
- ``eraflow transform`` (dbt build) and ``eraflow check`` (the expectation suites) on
  the loaded warehouse, then an incremental ``eraflow run`` that adds one new 1 MB
  file to it, and a whole ``eraflow run`` on a fresh warehouse;
- for comparison, in a separate virtual environment (``bench/.venv-compare``, pinned
  by ``bench/requirements-compare.txt``, created on first use): oxedi's parse,
  pyx12's X12Reader iterating segments, edi-835-parser's parse and to_dataframe, and
  a floor of plain Python splitting each file into segments and elements.

Rounds interleave the tools, so a noisy neighbour slows all of them alike; the table
quotes medians. Every measurement is its own process: wall time from the parent,
peak RSS from ``os.wait4`` for that process alone. The comparison drivers time only
the parse (their interpreter start-up and imports are reported apart); eraflow's
figures are whole commands, start-up included, as a user runs them.

Generating the data is not part of any figure. A stage that fails is reported as
"not available" with the first line of its error; the rest of the benchmark goes on.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlparse, urlunparse

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV = ROOT / ".venv"
ERAFLOW = VENV / "bin" / "eraflow"
COMPARE_VENV = Path(os.environ.get("ERAFLOW_BENCH_COMPARE_VENV", BENCH / ".venv-compare"))
COMPARE_REQUIREMENTS = BENCH / "requirements-compare.txt"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/"
MB = 1_000_000

# Figures the issue asks for (the ingest rate targets are ratios, checked in the table).
WHOLE_RUN_BUDGET_S = 600  # for 1 GB on DuckDB
INCREMENTAL_SHARE = 0.10
RSS_BUDGET_MB = 500  # for 1 GB of 10 MB files


# --------------------------------------------------------------------------- measuring


@dataclass
class Measure:
    """One measured process."""

    seconds: float
    rss_mb: float
    code: int
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        # 3 is eraflow's "data loaded, but a file was rejected or a check found
        # problems": the stage ran to its end, so its time counts.
        return self.code in (0, 3)

    def reason(self) -> str:
        """The first line of the error, for a stage that did not run to its end."""
        if self.timed_out:
            return f"stopped after {self.seconds:.0f} s (--stage-timeout)"
        lines = [ln.strip() for ln in (self.stderr + "\n" + self.stdout).splitlines()]
        for ln in lines:
            if ln.startswith("eraflow:") or "Error" in ln:
                return ln[:160]
        tail = [ln for ln in lines if ln]
        return (tail[-1] if tail else f"exit code {self.code}")[:160]


STAGE_TIMEOUT = [3600.0]  # seconds; set from --stage-timeout
LOG_DIR: list[Path] = []  # where each measured command's output is kept, when set

# Runs the measured command as its child and reports that child's own rusage. Linux
# carries a process's peak RSS across fork and exec (``ru_maxrss`` starts at the
# parent's), so a command started straight from this script would never report less
# than this script's own RSS; started from this small launcher it reports its own.
LAUNCHER = r"""
import json, os, sys, time
report, cmd = sys.argv[1], sys.argv[2:]
t = time.perf_counter()
pid = os.posix_spawn(cmd[0], cmd, os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - t
with open(report, "w") as out:
    json.dump({"seconds": seconds, "code": os.waitstatus_to_exitcode(status),
               "maxrss_kb": usage.ru_maxrss}, out)
"""


def measure(cmd: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> Measure:
    """Run ``cmd`` to its end; wall time and the peak RSS of that process alone.

    The command runs under ``LAUNCHER`` (see there why), which times it and reads its
    rusage with ``os.wait4``. A command still running after the stage timeout is
    stopped with its process group.
    """
    out = tempfile.TemporaryFile(mode="w+")
    err = tempfile.TemporaryFile(mode="w+")
    fd, report = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    started = time.perf_counter()
    launcher = [sys.executable, "-S", "-c", LAUNCHER, report, shutil.which(cmd[0]) or cmd[0],
                *cmd[1:]]
    proc = subprocess.Popen(launcher, stdout=out, stderr=err, env=env, cwd=cwd,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        proc.wait(timeout=STAGE_TIMEOUT[0])
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    wall = time.perf_counter() - started
    try:
        got = json.loads(Path(report).read_text())
    except (OSError, ValueError):  # stopped, or the launcher itself failed
        got = {"seconds": wall, "code": proc.returncode or -9, "maxrss_kb": 0}
    finally:
        Path(report).unlink(missing_ok=True)
    out.seek(0)
    err.seek(0)
    m = Measure(got["seconds"], got["maxrss_kb"] / 1024, got["code"], out.read(), err.read(),
                timed_out)
    if LOG_DIR:
        name = f"{len(list(LOG_DIR[0].iterdir())):04d}-{Path(cmd[0]).name}.log"
        (LOG_DIR[0] / name).write_text(
            f"$ {' '.join(cmd[:2])} ... ({m.seconds:.2f} s, exit {m.code}, "
            f"{m.rss_mb:.0f} MB)\n{m.stdout[-4000:]}\n--- stderr\n{m.stderr[-4000:]}\n")
    return m


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


# --------------------------------------------------------------------------- data set


@dataclass
class DataSet:
    folder: Path
    files: list[Path]
    bytes: int
    claims: int
    largest: int
    extra: Path  # a folder holding the one new file of the incremental run
    extra_bytes: int
    seed: str
    segments: int  # the generator's count, checked against each ingest's manifest


def _generate(folder: Path, seed: str, mb: float, file_mb: float) -> dict:
    """Write the files with the project's generator; returns its truth summary."""
    stamp = folder.with_name(folder.name + ".json")
    wanted = {"seed": seed, "target_mb": mb, "file_mb": file_mb}
    if stamp.exists() and folder.is_dir():
        known = json.loads(stamp.read_text())
        if known.get("params") == wanted:
            return known["truth"]
    shutil.rmtree(folder, ignore_errors=True)
    print(f"bench: generating {mb:g} MB of ERAs in {folder} ...", file=sys.stderr, flush=True)
    cmd = [str(VENV / "bin" / "python"), "-m", "etl.generator", "--out", str(folder),
           "--seed", seed, "--target-mb", str(mb), "--file-mb", str(file_mb)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    truth = json.loads(done.stdout)
    stamp.write_text(json.dumps({"params": wanted, "truth": truth}, indent=1))
    return truth


def _total(truth: dict, key: str) -> int:
    return int(truth.get("totals", {}).get(key, 0))


def prepare_data(out_root: Path, mb: float, file_mb: float, seed: str) -> DataSet:
    out_root.mkdir(parents=True, exist_ok=True)
    folder = out_root / f"era-{mb:g}mb-{file_mb:g}mbfiles-seed{seed}"
    truth = _generate(folder, seed, mb, file_mb)
    # The incremental run's new file: another seed, so its bytes are new to the warehouse.
    extra = out_root / f"era-incremental-1mb-seed{seed}"
    _generate(extra, f"{seed}-incremental", 1, 1)
    files = sorted(p for p in folder.iterdir() if p.is_file())
    sizes = [p.stat().st_size for p in files]
    extra_bytes = sum(p.stat().st_size for p in extra.iterdir() if p.is_file())
    return DataSet(folder, files, sum(sizes), _total(truth, "claim_count"), max(sizes), extra,
                   extra_bytes, seed, _total(truth, "segment_count"))


# --------------------------------------------------------------------------- warehouses


def postgres_admin(url: str):
    import psycopg2

    u = urlparse(url)
    con = psycopg2.connect(host=u.hostname or "127.0.0.1", port=u.port or 5432,
                           user=u.username or "postgres", password=u.password or None,
                           dbname=(u.path or "/").lstrip("/") or "postgres", connect_timeout=3)
    con.autocommit = True
    return con


def postgres_reachable(url: str) -> str | None:
    """The server's version, or None when nothing answers."""
    try:
        con = postgres_admin(url)
    except Exception as exc:  # psycopg2.OperationalError and friends
        print(f"bench: PostgreSQL not reachable at {url} ({type(exc).__name__}); "
              "measuring DuckDB only", file=sys.stderr)
        return None
    with contextlib.closing(con):
        cur = con.cursor()
        cur.execute("show server_version")
        return cur.fetchone()[0]


class Warehouses:
    """Fresh warehouses for the measurements; every one is removed at the end."""

    def __init__(self, work: Path, postgres_url: str | None, keep: bool):
        self.work = work
        self.postgres_url = postgres_url
        self.keep = keep
        self.made: list[tuple[str, str]] = []
        self.n = 0

    def fresh(self, kind: str) -> str:
        self.n += 1
        if kind == "duckdb":
            path = self.work / f"w{self.n}.duckdb"
            self.made.append((kind, str(path)))
            return str(path)
        name = f"eraflow_bench_{os.getpid()}_{self.n}"
        with contextlib.closing(postgres_admin(self.postgres_url)) as con:
            con.cursor().execute(f"create database {name}")
        self.made.append((kind, name))
        u = urlparse(self.postgres_url)
        return urlunparse(u._replace(path="/" + name))

    def drop(self, url: str) -> None:
        if self.keep:
            return
        for kind, name in list(self.made):
            if kind == "duckdb" and name == url:
                for suffix in ("", ".wal"):
                    Path(name + suffix).unlink(missing_ok=True)
                self.made.remove((kind, name))
            elif kind == "postgres" and url.endswith("/" + name):
                with contextlib.closing(postgres_admin(self.postgres_url)) as con:
                    con.cursor().execute(f"drop database if exists {name} with (force)")
                self.made.remove((kind, name))

    def drop_all(self) -> None:
        for kind, name in list(self.made):
            if kind == "duckdb":
                self.drop(name)
            else:
                self.drop("/" + name)


def manifest_counts(url: str) -> tuple[int, int, int]:
    """Files, segments and claims the warehouse holds as loaded."""
    from etl.warehouse import Warehouse

    rows = Warehouse.from_url(url).query(
        "select count(*), coalesce(sum(segment_count), 0), coalesce(sum(claim_count), 0) "
        "from raw.file_manifest where status = 'loaded'")
    files, segments, claims = rows[0]
    return int(files), int(segments), int(claims)


# --------------------------------------------------------------------------- comparison


# Runs inside the comparison venv: `python -c DRIVER TOOL FILE...`. It imports the
# tool, prepares its input (untimed), times only the parse, and prints one JSON line.
DRIVER = r'''
import json, os, resource, sys, tempfile, time, warnings
t0 = time.perf_counter()
tool, files = sys.argv[1], sys.argv[2:]
segments = 0
prep = 0.0
parse = 0.0

def delimiters(text):
    # From the ISA: element separator at offset 3, terminator after ISA16 (offset 105).
    return text[3], text[105]

if tool == "oxedi":
    import oxedi
    imported = time.perf_counter()
    for path in files:
        t = time.perf_counter()
        result = oxedi.parse_file(path)
        parse += time.perf_counter() - t
        segments += len(result.document)
        del result

elif tool == "pyx12":
    import pyx12.x12file
    imported = time.perf_counter()
    for path in files:
        t = time.perf_counter()
        with pyx12.x12file.X12Reader(path) as reader:
            for _segment in reader:
                segments += 1
        parse += time.perf_counter() - t

elif tool == "edi-835-parser":
    import builtins
    import edi_835_parser
    import edi_835_parser.segments.organization as organization
    imported = time.perf_counter()
    # edi-835-parser 1.8.0 casts N104 to int and raises on an alphanumeric payer id
    # (XV plan ids such as TSTMB0001); keep such an id as text, nothing else changes.
    organization.int = lambda v: builtins.int(v) if v.isdigit() else v
    # Its model is one transaction (ST...SE) per file: a file of many transactions has
    # many payers and to_dataframe fails an assertion. So each file is cut, untimed,
    # into one file per transaction with its interchange's envelope, and the timed
    # work is parse(folder of those pieces).to_dataframe(), per original file.
    warnings.simplefilter("ignore")  # "Identifier: MOA not handled", once per segment
    scratch = tempfile.mkdtemp(prefix="edi835-")
    folders = []
    t = time.perf_counter()
    for k, path in enumerate(files):
        text = open(path, encoding="ascii").read()
        elem, term = delimiters(text)
        folder = os.path.join(scratch, str(k))
        os.mkdir(folder)
        isa = gs = None
        piece = None
        n = 0
        for seg in text.split(term):
            sid = seg.split(elem, 1)[0].strip()
            if sid == "ISA":
                isa = seg
            elif sid == "GS":
                gs = seg
            elif sid == "ST":
                piece = [isa, gs, seg]
            elif piece is not None:
                piece.append(seg)
                if sid == "SE":
                    gs06, isa13 = gs.split(elem)[6], isa.split(elem)[13]
                    piece += [elem.join(["GE", "1", gs06]), elem.join(["IEA", "1", isa13])]
                    n += 1
                    with open(os.path.join(folder, f"{n:05d}.835"), "w") as out:
                        out.write(term.join(piece) + term)
                    piece = None
        folders.append(folder)
    prep = time.perf_counter() - t
    for folder in folders:
        t = time.perf_counter()
        frame = edi_835_parser.parse(folder).to_dataframe()
        parse += time.perf_counter() - t
        segments += len(frame)  # service lines: the frame's grain
        del frame

elif tool == "split":
    import gc
    imported = time.perf_counter()
    # A floor: the collector would otherwise walk the millions of new lists again and
    # again (measured: 3x the CPU time on 50 MB).
    gc.disable()
    for path in files:
        t = time.perf_counter()
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8")
        elem, term = delimiters(text)
        parsed = [seg.split(elem) for seg in text.split(term) if seg]
        parse += time.perf_counter() - t
        segments += len(parsed)
        del parsed, text

else:
    raise SystemExit(f"unknown tool {tool}")

print(json.dumps({
    "parse_seconds": parse,
    "prep_seconds": prep,
    "startup_seconds": imported - t0,
    "count": segments,
    "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
'''

# name shown, tool key, what is timed, what "count" is
COMPARISONS = [
    ("oxedi", "oxedi", "`oxedi.parse_file` per file (Rust: index, loops, typed tables)",
     "segments"),
    ("pyx12", "pyx12", "`pyx12.x12file.X12Reader` iterating every segment", "segments"),
    ("edi-835-parser", "edi-835-parser",
     "`edi_835_parser.parse(...).to_dataframe()`, one transaction per piece (see notes)",
     "service lines"),
    ("plain Python split", "split",
     "read, decode, split on the terminator, then each segment on the element separator "
     "(garbage collector off)",
     "segments"),
]


def compare_python() -> Path:
    return COMPARE_VENV / "bin" / "python"


def ensure_compare_venv() -> str | None:
    """Create or refresh the comparison venv; the reason it cannot be had, or None."""
    wanted = hashlib.sha256(COMPARE_REQUIREMENTS.read_bytes()).hexdigest()
    stamp = COMPARE_VENV / ".requirements.sha256"
    if compare_python().exists() and stamp.exists() and stamp.read_text() == wanted:
        return None
    print(f"bench: creating {COMPARE_VENV} from {COMPARE_REQUIREMENTS.name} ...",
          file=sys.stderr, flush=True)
    base = getattr(sys, "_base_executable", None) or sys.executable
    try:
        if not compare_python().exists():
            subprocess.run([base, "-m", "venv", str(COMPARE_VENV)], check=True,
                           capture_output=True, text=True)
        subprocess.run([str(compare_python()), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", "-r", str(COMPARE_REQUIREMENTS)],
                       check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        lines = [ln for ln in (exc.stderr or "").splitlines() if "ERROR" in ln] or ["failed"]
        return f"comparison venv cannot be built: {lines[0][:140]}"
    stamp.write_text(wanted)
    return None


def run_comparison(tool: str, files: list[Path], python: Path) -> tuple[Measure, dict | None]:
    m = measure([str(python), "-c", DRIVER, tool, *map(str, files)])
    if m.code != 0:
        return m, None
    return m, json.loads(m.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- results


@dataclass
class Series:
    """Repeated measurements of one thing."""

    seconds: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    startup: list[float] = field(default_factory=list)
    count: int | None = None
    failure: str | None = None
    notes: list[str] = field(default_factory=list)

    def add(self, seconds: float, rss_mb: float | None = None) -> None:
        self.seconds.append(seconds)
        if rss_mb is not None:
            self.rss_mb.append(rss_mb)

    def fail(self, reason: str) -> None:
        self.failure = self.failure or reason

    @property
    def s(self) -> float | None:
        return median(self.seconds)

    @property
    def rss(self) -> float | None:
        return median(self.rss_mb)


class _Results(dict):
    """Series by name, made on first use."""

    def __missing__(self, key: str) -> Series:
        self[key] = Series()
        return self[key]


def stage_dbt_seconds(stdout: str) -> float | None:
    """dbt's share of an ``eraflow run``, from its 'dbt build passed (12.3s)' line."""
    m = re.search(r"transform: dbt build (?:passed|reported).*?\(([0-9.]+)s\)", stdout)
    return float(m.group(1)) if m else None


# --------------------------------------------------------------------------- the rounds


def eraflow_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ERAFLOW_")}
    # dbt's artifacts and partial-parse cache go with the benchmark's other scratch.
    env["ERAFLOW_DBT_ARTIFACTS_DIR"] = str(work / "dbt-artifacts")
    return env


def eraflow(command: str, url: str, work: Path, source: Path | None = None) -> Measure:
    data_dir = work / f"data-{uuid.uuid4().hex[:8]}"
    cmd = [str(ERAFLOW), command]
    if source is not None:
        cmd += ["--source", str(source)]
    cmd += ["--warehouse", url, "--data-dir", str(data_dir)]
    try:
        return measure(cmd, env=eraflow_env(work))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def backend_round(kind: str, data: DataSet, whs: Warehouses, work: Path, skip_dbt: bool,
                  r: dict[str, Series], round_no: int) -> None:
    """One round of our own measurements on one backend.

    A stage stopped by the stage timeout is not tried again in later rounds, nor are
    the stages that contain it (a whole run contains its dbt build): they would only
    be stopped again.
    """

    def note(m: Measure, key: str) -> bool:
        if m.ok:
            r[key].add(m.seconds, m.rss_mb)
            if m.code == 3:
                r[key].notes.append(f"{kind} {key.split(':')[1]}: exit 3 (a file was "
                                    "rejected or a check found problems)")
            return True
        r[key].fail(m.reason())
        if m.timed_out:
            blocked = r[f"{kind}:blocked"]
            for stage in {"transform": ("transform", "check", "incremental", "run"),
                          "check": ("check", "incremental", "run"),
                          }.get(key.split(":")[1], (key.split(":")[1],)):
                blocked.notes.append(stage)
                r[f"{kind}:{stage}"].fail(f"not run: {key.split(':')[1]} {m.reason()}"
                                          if stage != key.split(":")[1] else m.reason())
        return False

    def blocked(stage: str) -> bool:
        return stage in r[f"{kind}:blocked"].notes

    def say(what: str) -> None:
        print(f"bench: round {round_no} {kind}: {what}", file=sys.stderr, flush=True)

    # Start-up: the same command on an empty folder (interpreter, imports, connect, DDL).
    empty = work / "empty"
    empty.mkdir(exist_ok=True)
    url = whs.fresh(kind)
    note(eraflow("ingest", url, work, empty), f"{kind}:startup")
    whs.drop(url)

    # Memory: the largest file alone, to set beside the whole batch.
    if kind == "duckdb":
        one = work / "largest"
        one.mkdir(exist_ok=True)
        largest = max(data.files, key=lambda p: p.stat().st_size)
        link = one / largest.name
        if not link.exists():
            link.symlink_to(largest)
        url = whs.fresh(kind)
        note(eraflow("ingest", url, work, one), f"{kind}:ingest-one")
        whs.drop(url)

    if blocked("ingest"):
        return
    say("ingest")
    url = whs.fresh(kind)
    try:
        if not note(eraflow("ingest", url, work, data.folder), f"{kind}:ingest"):
            return
        files, segments, claims = manifest_counts(url)
        if (files, segments, claims) != (len(data.files), data.segments, data.claims):
            r[f"{kind}:ingest"].notes.append(
                f"{kind} manifest: {files} files, {segments} segments, {claims} claims "
                f"loaded; the generator wrote {len(data.files)}, {data.segments}, "
                f"{data.claims}")

        if skip_dbt:
            say("incremental ingest")
            note(eraflow("ingest", url, work, data.extra), f"{kind}:incremental")
            return

        built = checked = False
        if not blocked("transform"):
            say("dbt build")
            built = note(eraflow("transform", url, work), f"{kind}:transform")
        if built and not blocked("check"):
            say("checks")
            checked = note(eraflow("check", url, work), f"{kind}:check")
        elif not built:
            r[f"{kind}:check"].fail("not run: the dbt build did not complete")
        if built and checked and not blocked("incremental"):
            say("incremental run")
            m = eraflow("run", url, work, data.extra)
            if note(m, f"{kind}:incremental"):
                dbt_s = stage_dbt_seconds(m.stdout)
                if dbt_s is not None:
                    r[f"{kind}:incremental-dbt"].add(dbt_s)
        elif not (built and checked):
            r[f"{kind}:incremental"].fail("not run: the full run it adds to did not complete")
    finally:
        whs.drop(url)

    if blocked("run"):
        return
    say("whole run")
    url = whs.fresh(kind)
    try:
        m = eraflow("run", url, work, data.folder)
        if note(m, f"{kind}:run"):
            dbt_s = stage_dbt_seconds(m.stdout)
            if dbt_s is not None:
                r[f"{kind}:run-dbt"].add(dbt_s)
    finally:
        whs.drop(url)


# --------------------------------------------------------------------------- report


def fmt(v: float | None, digits: int = 1, unit: str = "") -> str:
    if v is None:
        return "n/a"
    if abs(v) >= 100:
        return f"{v:,.0f}{unit}"
    return f"{v:.{digits}f}{unit}"


def machine_facts(pg_version: str | None) -> list[tuple[str, str]]:
    import importlib.metadata as md

    def ver(name: str) -> str:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "not installed"

    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    facts = [
        ("cores (nproc)", str(os.cpu_count())),
        ("CPU", cpu),
        ("RAM", ram),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("eraflow", ver("eraflow")),
        ("DuckDB", ver("duckdb")),
        ("PostgreSQL server", pg_version or "not reachable"),
        ("psycopg2", ver("psycopg2-binary")),
        ("dbt-core / dbt-duckdb / dbt-postgres",
         f"{ver('dbt-core')} / {ver('dbt-duckdb')} / {ver('dbt-postgres')}"),
        ("great-expectations", ver("great-expectations")),
    ]
    if compare_python().exists():
        probe = ("import importlib.metadata as m, json; print(json.dumps({n: m.version(n) for n"
                 " in ['oxedi', 'pyx12', 'edi-835-parser', 'pandas']}))")
        done = subprocess.run([str(compare_python()), "-c", probe], capture_output=True,
                              text=True)
        if done.returncode == 0:
            v = json.loads(done.stdout)
            facts.append(("comparison venv", ", ".join(f"{k} {x}" for k, x in v.items())))
    return facts


def report(args, data: DataSet, r: dict[str, Series], kinds: list[str], facts,
           load: tuple[tuple[float, ...], tuple[float, ...]], compare_reason: str | None,
           started: datetime, elapsed: float) -> str:
    size_mb = data.bytes / MB
    segments = data.segments or None

    def rate(series: Series, amount: float | None) -> float | None:
        return amount / series.s if series.s and amount else None

    def ratio(ours: float | None, theirs: float | None) -> str:
        return f"{ours / theirs:.2f}x" if ours and theirs else "n/a"

    ours = {k: rate(r[f"{k}:ingest"], size_mb) for k in kinds}
    out: list[str] = []
    w = out.append
    w("# eraflow benchmark results")
    w("")
    w(f"Written by `bench/run.py` on {started:%Y-%m-%d %H:%M} UTC in {elapsed / 60:.0f} min: "
      f"`{' '.join(['bench/run.py', *sys.argv[1:]])}`. Median of {args.runs} round(s); each "
      "figure is its own process, and rounds interleave the tools so that a busy neighbour "
      "slows them alike.")
    w("")
    w(f"Data set: {len(data.files)} files, {size_mb:,.1f} MB (largest {data.largest / MB:.1f} "
      f"MB), {data.segments:,} segments, {data.claims:,} claims; `etl.generator` seed "
      f"{data.seed} (sized mode). Incremental file: {data.extra_bytes / MB:.1f} MB, seed "
      f"{data.seed}-incremental.")
    w("")
    w("## Parse and ingest rates")
    w("")
    w("MB/s, segments/s and claims/s use the same files, bytes and counts for every row. "
      "`ours ÷ it` is eraflow ingest's rate divided by that row's rate "
      "(above 1 means eraflow is faster).")
    w("")
    head = "| what | timed | median s | MB/s | segments/s | claims/s | peak RSS MB |"
    sep = "|---|---|---:|---:|---:|---:|---:|"
    for k in kinds:
        head += f" ours ({k}) ÷ it |"
        sep += "---:|"
    w(head)
    w(sep)

    def row(name: str, timed: str, series: Series) -> None:
        if series.failure and not series.seconds:
            cells = [name, timed, f"not available: {series.failure}", "", "", "", ""]
            cells += [""] * len(kinds)
            w("| " + " | ".join(cells) + " |")
            return
        mbs = rate(series, size_mb)
        cells = [name, timed, fmt(series.s, 2), fmt(mbs, 2),
                 fmt(rate(series, segments), 0), fmt(rate(series, data.claims), 0),
                 fmt(series.rss, 0)]
        cells += [ratio(ours[k], mbs) for k in kinds]
        w("| " + " | ".join(cells) + " |")

    for k in kinds:
        row(f"**eraflow ingest → {k}**",
            "whole `eraflow ingest` command: read, parse, validate, commit",
            r[f"{k}:ingest"])
    for name, key, timed, _count in COMPARISONS:
        row(name, timed, r[f"cmp:{key}"])
    w("")
    w("How the tools are driven (the `DRIVER` text of `bench/run.py`): each reads the files "
      "from disk itself inside the timed part. edi-835-parser 1.8.0 reads one transaction "
      "(ST…SE) per file; on a file of several its `to_dataframe` fails a single-payer "
      "assertion, so each file is cut, untimed, into one file per transaction with its "
      "envelope, and the timed work is `parse(folder).to_dataframe()`. It also casts the "
      "payer's N104 to `int` and raises on an alphanumeric id (`XV*TSTMB0001`); the driver "
      "keeps such an id as text. Without those two, it loads none of these files.")
    w("")
    starts = [f"{k} {fmt(r[f'{k}:startup'].s, 2)} s" for k in kinds]
    cstarts = [f"{name} {fmt(median(r[f'cmp:{key}'].startup), 2)} s"
               for name, key, _t, _c in COMPARISONS if r[f"cmp:{key}"].startup]
    w(f"Start-up, not in the comparison tools' times: {', '.join(cstarts) or 'n/a'} "
      "(interpreter and imports). eraflow's times include its start-up; `eraflow ingest` "
      f"of an empty folder takes {', '.join(starts)}.")
    if compare_reason:
        w("")
        w(f"Comparison tools not measured: {compare_reason}.")
    w("")
    w("## Pipeline stages")
    w("")
    w("| stage | " + " | ".join(kinds) + " |")
    w("|---|" + "---:|" * len(kinds))

    def stage(name: str, key: str, extra: str = "") -> None:
        cells = []
        for k in kinds:
            s = r[f"{k}:{key}"]
            if s.seconds:
                cell = f"{fmt(s.s, 1)} s"
                if s.rss_mb:
                    cell += f" ({fmt(s.rss, 0)} MB RSS)"
                if s.failure:
                    cell += f"; some rounds failed: {s.failure}"
            else:
                cell = f"not available: {s.failure}" if s.failure else "not measured"
            cells.append(cell)
        w(f"| {name}{extra} | " + " | ".join(cells) + " |")

    stage("`eraflow ingest` of an empty folder (start-up)", "startup")
    stage("`eraflow ingest`", "ingest")
    stage("`eraflow transform` (dbt build) on the loaded data", "transform")
    stage("`eraflow check` (expectation suites)", "check")
    stage("whole `eraflow run` on a fresh warehouse", "run")
    stage("  of which dbt build", "run-dbt")
    stage(f"incremental `eraflow {'ingest' if args.skip_dbt else 'run'}`: one new "
          f"{data.extra_bytes / MB:.1f} MB file on the loaded warehouse", "incremental")
    stage("  of which dbt build", "incremental-dbt")
    if "duckdb" in kinds:
        stage(f"`eraflow ingest` of the largest file alone ({data.largest / MB:.1f} MB)",
              "ingest-one")
    notes = sorted({n for key, s in r.items() if not key.endswith(":blocked")
                    for n in s.notes})
    if notes:
        w("")
        w("Notes: " + "; ".join(notes) + ".")

    w("")
    w("## The figures the issue asks for")
    w("")
    w("| figure | target | measured here | met |")
    w("|---|---|---|---|")

    def target(name: str, goal: str, value: str, met: bool | None) -> None:
        mark = "n/a" if met is None else ("yes" if met else "**no**")
        w(f"| {name} | {goal} | {value} | {mark} |")

    ox = rate(r["cmp:oxedi"], size_mb)
    for k in kinds:
        o = ours[k]
        target(f"ingest → {k} vs oxedi parse-only", "≥ 1x",
               f"{fmt(o, 2)} vs {fmt(ox, 2)} MB/s = {ratio(o, ox)}",
               None if not (o and ox) else o >= ox)
        for key in ("pyx12", "edi-835-parser"):
            t = rate(r[f"cmp:{key}"], size_mb)
            target(f"ingest → {k} vs {key}", "≥ 10x",
                   f"{fmt(o, 2)} vs {fmt(t, 2)} MB/s = {ratio(o, t)}",
                   None if not (o and t) else o >= 10 * t)
    d = r["duckdb:ingest"]
    one = r["duckdb:ingest-one"]
    if d.rss and one.rss:
        budget = "" if size_mb < 900 else f"; < {RSS_BUDGET_MB} MB"
        target("ingest peak RSS grows with the largest file, not the file count",
               f"all {len(data.files)} files ≈ the largest alone{budget}",
               f"{fmt(d.rss, 0)} MB for all vs {fmt(one.rss, 0)} MB for one",
               d.rss <= one.rss * 1.25 + 50 and (size_mb < 900 or d.rss < RSS_BUDGET_MB))
    for k in kinds:
        run = r[f"{k}:run"]
        inc = r[f"{k}:incremental"]
        goal = "< 10 min for 1 GB" + (" (DuckDB)" if k == "duckdb" else ", reported")
        ingest_s = r[f"{k}:ingest"].s
        per_gb = (f"; ingest alone at this rate: ≈ {ingest_s * 1000 / size_mb / 60:.0f} min "
                  "per GB" if ingest_s and size_mb < 900 else "")
        if run.s:
            met = (run.s < WHOLE_RUN_BUDGET_S) if size_mb >= 900 else None
            target(f"whole run ({k})", goal,
                   f"{fmt(run.s, 0)} s for {size_mb:.0f} MB{per_gb}",
                   met if k == "duckdb" else None)
        else:
            why = f"not available: {run.failure}" if run.failure else "not measured"
            target(f"whole run ({k})", goal, f"{why}{per_gb}",
                   None if size_mb < 900 or k != "duckdb" else False)
        if run.s and inc.s:
            share = inc.s / run.s
            target(f"incremental run ({k})", "< 10% of the full run",
                   f"{fmt(inc.s, 0)} s = {share:.0%} of {fmt(run.s, 0)} s"
                   + ("" if size_mb >= 900 else f" (on {size_mb:.0f} MB, not 1 GB)"),
                   share < INCREMENTAL_SHARE)
    if "postgres" in kinds:
        # From reading etl/loader.py (its owner changes it); not measured by this script.
        target("PostgreSQL ingest uses COPY, not row inserts", "COPY",
               "raw.segments is filled by one `copy … from` of a CSV that DuckDB writes "
               "per file (etl/loader.py); findings and payment keys, a few rows per "
               "file, by `executemany`", None)

    w("")
    w("## Machine")
    w("")
    w("| | |")
    w("|---|---|")
    for k, v in facts:
        w(f"| {k} | {v} |")
    w(f"| load average (1, 5, 15 min) at start / end | {' '.join(f'{x:.2f}' for x in load[0])}"
      f" / {' '.join(f'{x:.2f}' for x in load[1])} |")
    w("")
    w("## All rounds (seconds)")
    w("")
    for key, s in r.items():
        if s.seconds:
            w(f"- {key}: " + ", ".join(f"{x:.2f}" for x in s.seconds)
              + (f" (peak RSS MB: {', '.join(f'{x:.0f}' for x in s.rss_mb)})" if s.rss_mb
                 else ""))
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- main


def parse_size(text: str) -> float:
    m = re.fullmatch(r"\s*([0-9.]+)\s*([KMG]?B?)\s*", text.upper())
    if not m:
        raise argparse.ArgumentTypeError(f"size {text!r}: say 50MB or 1GB")
    n, unit = float(m.group(1)), m.group(2).rstrip("B") or "M"
    return n * {"K": 0.001, "M": 1, "G": 1000}[unit]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description="Benchmark eraflow against oxedi, pyx12, "
        "edi-835-parser and a plain Python split, on one generated ERA set.")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--mb", type=float, help="data set size in MB (default 50)")
    size.add_argument("--size", type=parse_size, help="data set size, e.g. 50MB or 1GB")
    parser.add_argument("--file-mb", type=float, default=None,
                        help="size of each file (default 5 MB, 10 MB from 500 MB up)")
    parser.add_argument("--seed", default="835", help="generator seed (default 835)")
    parser.add_argument("--runs", type=int, default=3, help="rounds; medians are quoted")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES,
                        help="server to benchmark PostgreSQL on; a fresh database "
                             "eraflow_bench_<pid>_<n> is made and dropped for each "
                             f"measurement (default {DEFAULT_POSTGRES})")
    parser.add_argument("--no-postgres", action="store_true", help="DuckDB only")
    parser.add_argument("--skip-dbt", action="store_true",
                        help="ingest and comparisons only (no dbt build, checks, runs)")
    parser.add_argument("--skip-compare", action="store_true",
                        help="leave out the comparison tools")
    parser.add_argument("--data", type=Path, default=BENCH / "out",
                        help="where the generated files and the scratch go (bench/out)")
    parser.add_argument("--out", type=Path, default=BENCH / "results.md",
                        help="where to write the table (default bench/results.md)")
    parser.add_argument("--keep", action="store_true", help="keep the warehouses")
    parser.add_argument("--stage-timeout", type=float, default=3600,
                        help="stop a stage after this many seconds and report it as not "
                             "available (default 3600)")
    args = parser.parse_args(argv)
    mb = args.size or args.mb or 50.0
    STAGE_TIMEOUT[0] = args.stage_timeout
    file_mb = args.file_mb or (10.0 if mb >= 500 else 5.0)
    if not ERAFLOW.exists():
        print(f"bench: {ERAFLOW} not found; run `make install` first", file=sys.stderr)
        return 1

    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    load_start = os.getloadavg()
    data = prepare_data(args.data, mb, min(file_mb, mb), args.seed)

    pg_version = None if args.no_postgres else postgres_reachable(args.postgres)
    kinds = ["duckdb"] + (["postgres"] if pg_version else [])
    compare_reason = None if args.skip_compare else ensure_compare_venv()
    if args.skip_compare:
        compare_reason = "--skip-compare"

    work = args.data / f"work-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    logs = args.data / f"logs-{started:%Y%m%dT%H%M%S}"
    logs.mkdir(parents=True, exist_ok=True)
    LOG_DIR.append(logs)
    whs = Warehouses(work, args.postgres if pg_version else None, args.keep)
    r: dict[str, Series] = _Results()
    try:
        for n in range(1, args.runs + 1):
            if compare_reason is None:
                for _name, key, _t, _c in COMPARISONS:
                    print(f"bench: round {n}: {key}", file=sys.stderr, flush=True)
                    python = compare_python() if key != "split" else Path(sys.executable)
                    m, res = run_comparison(key, data.files, python)
                    s = r[f"cmp:{key}"]
                    if res is None:
                        s.fail(m.reason())
                        continue
                    s.add(res["parse_seconds"], m.rss_mb)
                    s.startup.append(res["startup_seconds"])
                    s.count = res["count"]
            for kind in kinds:
                backend_round(kind, data, whs, work, args.skip_dbt, r, n)
    finally:
        whs.drop_all()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    if compare_reason is not None:
        for _name, key, _t, _c in COMPARISONS:
            r[f"cmp:{key}"].fail(compare_reason)
    elapsed = time.perf_counter() - t0
    text = report(args, data, r, kinds, machine_facts(pg_version),
                  (load_start, os.getloadavg()), compare_reason, started, elapsed)
    args.out.write_text(text)
    print(text)
    print(f"bench: written to {args.out}; each command's output is in {logs}", file=sys.stderr)
    return 0


def _in_project_venv() -> None:
    """Run under the project's venv (it has duckdb, psycopg2 and etl), whatever python
    the command was started with."""
    python = VENV / "bin" / "python"
    if python.exists() and Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


if __name__ == "__main__":
    _in_project_venv()
    sys.exit(main())
