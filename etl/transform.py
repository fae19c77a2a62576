"""Run the dbt project (``dbt_project/``) against a warehouse.

The CLI, the DAG and the tests all call :func:`run_dbt` so that dbt always sees
the same project, the same profile and the same warehouse as the loader. The
profile reads its connection from the environment built by
``Warehouse.dbt_env()``; dbt's artifacts and logs go to a per-warehouse
directory outside the checkout (``$ERAFLOW_DBT_ARTIFACTS_DIR``, default
``<tmp>/eraflow-dbt/<hash of the warehouse url>``), so a read-only checkout works
and two warehouses never share a partial-parse cache.

dbt runs in-process through ``dbt.cli.main.dbtRunner`` by default, or as a
subprocess of the dbt executable next to the running Python (``invocation=
"subprocess"`` or ``ERAFLOW_DBT_INVOCATION=subprocess``), which keeps dbt's global
state and its environment out of a long-lived process such as an Airflow worker.

Failures name the node and carry the first two lines of dbt's message with quoted
literals masked, so a database error that echoes a value never reaches the logs.
``$ERAFLOW_DBT_PROJECT`` points at another copy of the project (as for the DAG).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from etl.warehouse import Warehouse

log = logging.getLogger(__name__)

PROJECT_DIR = Path(
    os.environ.get("ERAFLOW_DBT_PROJECT")
    or Path(__file__).resolve().parents[1] / "dbt_project"
).resolve()

COMMANDS = ("build", "run", "test", "seed", "compile", "parse", "ls", "list")
FAILED_STATUSES = {"error", "fail", "runtime error"}
WARNED_STATUSES = {"warn"}

# dbt runs one in-process invocation at a time: it keeps global state (flags,
# adapters, invocation context) and reads its settings from os.environ.
_RUNNER_LOCK = threading.Lock()


@dataclass
class DbtResult:
    """What one dbt invocation did.

    ``failures`` and ``warnings`` hold one line per node, ``"<unique_id>: <status>:
    <message>"``; ``statuses`` counts nodes per status (``success``, ``pass``, ``warn``,
    ``fail``, ``error``, ``skipped``).
    """

    success: bool
    failures: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    warnings: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    command: str = "build"
    target_path: Path | None = None


def artifacts_dir(wh: Warehouse) -> Path:
    """Where dbt writes target/ and logs/ for this warehouse."""
    base = os.environ.get("ERAFLOW_DBT_ARTIFACTS_DIR") or (
        Path(tempfile.gettempdir()) / "eraflow-dbt"
    )
    key = hashlib.sha256(wh.url.encode()).hexdigest()[:16]
    return Path(base) / key


def run_dbt(
    wh: Warehouse,
    command: str = "build",
    select: str | Sequence[str] | None = None,
    full_refresh: bool = False,
    *,
    exclude: str | Sequence[str] | None = None,
    invocation: str | None = None,
    quiet: bool = False,
) -> DbtResult:
    """Run ``dbt <command>`` on the warehouse and report what failed.

    ``build`` loads the seeds, runs the models, data tests and unit tests in DAG
    order. ``select``/``exclude`` take dbt selection syntax (a string or a list).
    ``full_refresh`` rebuilds seeds and incremental models from scratch.
    """
    if command not in COMMANDS:
        raise ValueError(f"unsupported dbt command {command!r}; expected one of {COMMANDS}")
    invocation = invocation or os.environ.get("ERAFLOW_DBT_INVOCATION") or "runner"
    if invocation not in ("runner", "subprocess"):
        raise ValueError(f"unsupported dbt invocation {invocation!r}")

    out_dir = artifacts_dir(wh)
    target_path = out_dir / "target"
    log_path = out_dir / "logs"
    target_path.mkdir(parents=True, exist_ok=True)
    log_path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (target_path / "run_results.json").unlink()

    args = [
        command,
        "--project-dir", str(PROJECT_DIR),
        "--profiles-dir", str(PROJECT_DIR),
        "--target-path", str(target_path),
        "--log-path", str(log_path),
        "--no-use-colors",
        "--no-version-check",
    ]
    args += _selection("--select", select)
    args += _selection("--exclude", exclude)
    if full_refresh and command in ("build", "run", "seed"):
        args.append("--full-refresh")
    if quiet:
        args.append("--quiet")
    env = {**wh.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}

    log.info("dbt %s on %s warehouse (%s), select=%s", command, wh.kind, invocation, select)
    started = time.monotonic()
    if invocation == "runner":
        result = _run_in_process(args, env)
    else:
        result = _run_subprocess(args, env, target_path)
    result.elapsed = round(time.monotonic() - started, 3)
    result.command = command
    result.target_path = target_path

    if not result.success and not result.failures:
        result.failures.append(f"dbt {command}: failed; see {log_path / 'dbt.log'}")
    log.info(
        "dbt %s %s in %.1fs: %s",
        command,
        "succeeded" if result.success else "failed",
        result.elapsed,
        ", ".join(f"{k}={v}" for k, v in sorted(result.statuses.items())) or "no nodes",
    )
    for line in result.failures:
        log.error("dbt failure: %s", line)
    for line in result.warnings:
        log.warning("dbt warning: %s", line)
    return result


def _selection(flag: str, value: str | Sequence[str] | None) -> list[str]:
    if not value:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [flag, *items]


def _run_in_process(args: list[str], env: dict[str, str]) -> DbtResult:
    from dbt.cli.main import dbtRunner  # heavy import, only when dbt actually runs

    with _RUNNER_LOCK, _environment(env):
        try:
            outcome = dbtRunner().invoke(list(args))
        except Exception as exc:  # dbtRunner reports most errors itself; not all
            return DbtResult(success=False,
                             failures=[f"dbt: {type(exc).__name__}: {_mask(str(exc))}"])
        finally:
            _release_duckdb()

    nodes = getattr(outcome.result, "results", None)
    if nodes is None:
        result = DbtResult(success=bool(outcome.success))
        if outcome.exception is not None:
            result.failures.append(f"dbt: {type(outcome.exception).__name__}: "
                                   f"{_mask(str(outcome.exception))}")
        return result
    rows = (
        (node.node.unique_id, str(getattr(node.status, "value", node.status)), node.message)
        for node in nodes
    )
    result = _summarise(rows)
    result.success = bool(outcome.success)
    return result


def _release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open after an in-process run.

    dbt-duckdb (1.11) holds its database in a class-level environment that
    ``cleanup_connections`` drops without closing, so the file stays open in this
    process and a later ``duckdb.connect(path, read_only=True)`` (the GX checks, the
    CLI summary) fails with "different configuration than existing connections".
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # dbt-duckdb not installed: nothing to release
        return
    with DuckDBConnectionManager._LOCK:
        env, DuckDBConnectionManager._ENV = DuckDBConnectionManager._ENV, None
    if env is not None:
        with contextlib.suppress(Exception):
            env.close()


def _run_subprocess(args: list[str], env: dict[str, str], target_path: Path) -> DbtResult:
    exe = Path(sys.executable).with_name("dbt")
    executable = str(exe) if exe.exists() else shutil.which("dbt")
    if executable is None:
        return DbtResult(success=False, failures=["dbt: executable not found"])
    proc = subprocess.run(
        [executable, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    for line in proc.stdout.splitlines():
        log.info("dbt | %s", line)

    run_results = target_path / "run_results.json"
    if not run_results.exists():
        output = (proc.stderr or proc.stdout).strip().splitlines()
        tail = _mask(output[-1]) if output else "no output"
        return DbtResult(success=False, failures=[f"dbt: exit {proc.returncode}: {tail}"])
    payload = json.loads(run_results.read_text())
    rows = (
        (node["unique_id"], str(node["status"]), node.get("message"))
        for node in payload.get("results", [])
    )
    result = _summarise(rows)
    result.success = proc.returncode == 0
    return result


def _summarise(rows: Iterable[tuple[str, str, Any]]) -> DbtResult:
    result = DbtResult(success=True)
    for unique_id, status, message in rows:
        status = status.lower()
        result.statuses[status] = result.statuses.get(status, 0) + 1
        line = f"{unique_id}: {status}: {_mask(message)}"
        if status in FAILED_STATUSES:
            result.failures.append(line)
        elif status in WARNED_STATUSES:
            result.warnings.append(line)
    return result


_QUOTED = re.compile(r"'(?:[^']|'')*'")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _mask(message: Any, limit: int = 300) -> str:
    """First two lines of a dbt/database message, single-quoted literals masked.

    dbt puts "Database Error in model x (path)" on the first line and the
    database's reason on the second; values a database echoes are quoted.
    """
    text = _ANSI.sub("", str(message or ""))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    text = _QUOTED.sub("'…'", " | ".join(lines[:2]))
    return text if len(text) <= limit else text[: limit - 1] + "…"


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore them."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
