"""``make demo``: the whole pipeline on a laptop, through the real Airflow DAG.

What it does, all under the repo's git-ignored ``var/``:

1. a local Airflow (``var/airflow``: SQLite metadata, ``airflow db migrate``, the
   DAG bundle pointed at ``dags/``);
2. an SFTP server on 127.0.0.1 (the same loopback server the tests use) whose
   ``/inbox`` is filled with the bundled ``sample_data/era/*.835`` and whose
   ``/ledger`` folder with the bundled posting ledger, ``sample_data/ledger/*.csv``
   (the ledger file and its code map); its ed25519 host key is kept in
   ``var/demo/sftp/host_key`` and pinned in the ``sftp_era`` connection, so host-key
   verification is on, as in production;
3. one run of the ``era_ingest`` DAG with ``dag.test()``: fetch over SFTP, load the
   835s and the ledger, dbt (via cosmos), expectation suites, summary;
4. the headline figures and each check read back from the warehouse, and the
   ledger's findings held against ``sample_data/ledger/PLANTED.json``.

The bundled ledger holds mispostings on purpose, so ``run_checks`` fails and with it
the DAG run. The demo decides for itself: it succeeds when every finding of the
suites ``PLANTED.json`` covers is one it plants (check, claim, line, file and dollars,
row for row), every planted one is found, and no other check failed; it prints each
planted kind with its rows and dollars and ``every planted kind caught exactly``.
Anything else (a planted misposting missed, a finding nobody planted, another task
failing) is a failed demo. ``--no-ledger`` runs the 835s alone (with ``--fresh``: a
warehouse that holds a ledger keeps failing its checks); the run must then succeed.

Run it again and the loader recognises every file (same bytes), so the figures stay
the same; ``--fresh`` starts from an empty warehouse.

To stay quick on a laptop the demo runs dbt inside the task process
(``ERAFLOW_DBT_INVOCATION=dbt_runner``): dbt is imported once instead of once per
model. ``--production-dbt`` runs the DAG's default, one ``dbt`` subprocess per task,
which takes about twice as long.

Exit code 0 when the DAG run succeeded, or failed only on the planted findings, each
caught exactly; 1 otherwise (the figures are printed either way, with the failed tasks).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VAR = REPO / "var"
DEMO = VAR / "demo"

log = logging.getLogger("eraflow.demo")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m etl.demo", description=__doc__.split("\n")[0])
    p.add_argument("--samples", type=Path, default=REPO / "sample_data" / "era",
                   help="folder of 835 files to put in the SFTP inbox (default: %(default)s)")
    p.add_argument("--ledger", type=Path, default=REPO / "sample_data" / "ledger",
                   help="posting-ledger folder to put in the SFTP folder /ledger; its "
                        "PLANTED.json, if any, lists the findings to expect "
                        "(default: %(default)s)")
    p.add_argument("--no-ledger", action="store_true",
                   help="serve the 835s alone (no ledger folder on the SFTP server)")
    # Not $ERAFLOW_WAREHOUSE: a demo must never write into a warehouse configured for
    # real work just because the variable is set in the shell.
    p.add_argument("--warehouse", default=str(DEMO / "warehouse.duckdb"),
                   help="DuckDB file or postgresql:// URL (default: %(default)s)")
    p.add_argument("--fresh", action="store_true",
                   help="delete the DuckDB warehouse and the demo's Airflow state first")
    p.add_argument("--verbose", action="store_true", help="show Airflow's task logs")
    p.add_argument("--production-dbt", action="store_true",
                   help="run dbt as the DAG does by default: a subprocess per task (slower)")
    return p.parse_args(argv)


def _sample_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower()
                  in (".835", ".txt", ".edi", ".x12", ".zip"))


def _fill_inbox(root: Path, files: list[Path]) -> Path:
    """A clean ``/inbox`` (archive included) holding a copy of ``files``."""
    inbox = root / "inbox"
    shutil.rmtree(inbox, ignore_errors=True)
    inbox.mkdir(parents=True)
    for f in files:
        shutil.copyfile(f, inbox / f.name)
    return inbox


def _fill_ledger_folder(root: Path, folder: Path) -> tuple[Path, list[Path]]:
    """A clean ``/ledger`` (archive included) holding the CSV files of ``folder``; the
    ledger files among them (all but the code map) are returned."""
    from etl.ledger import CODE_MAP_NAME

    target = root / "ledger"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    files = sorted(p for p in folder.glob("*.csv") if not p.name.startswith("."))
    for f in files:
        shutil.copyfile(f, target / f.name)
    return target, [f for f in files if f.name != CODE_MAP_NAME]


@dataclass
class PlantedKind:
    """One check of the planted set: what ``PLANTED.json`` lists and what the run found."""

    check: str
    severity: str
    planted_rows: int
    planted_amount: Decimal
    found_rows: int
    found_amount: Decimal
    exact: bool  # the same findings, row for row (claim, line, file and dollars)


def _planted_keys(truth: dict) -> Counter:
    """``(suite, check, claim_id, service_line_id, file_id, dollars)`` per planted
    finding, keyed the way ``dq.findings`` keys them (``docs/ARCHITECTURE.md``):
    a file's id is the SHA-256 the truth file records for it."""
    ids = {f["name"]: f["sha256"] for f in truth["era_files"] + truth["ledger_files"]}
    keys: Counter = Counter()
    for f in truth["findings"]:
        era = ids[f["era_file"]] if f.get("era_file") else None
        claim = f"{era}-{f['transaction_seq']}-{f['claim_seq']}" if era and f.get(
            "claim_seq") else None
        line = f"{claim}-{f['line_seq']}" if claim and f.get("line_seq") else None
        file_id = ids[f["ledger_file"]] if f.get("ledger_file") else era
        keys[(f["suite"], f["check"], claim, line, file_id,
              Decimal(f["amount"]).quantize(Decimal("0.01")))] += 1
    return keys


def compare_with_planted(wh, run_id: str, truth: dict) -> tuple[list[PlantedKind], list[str]]:
    """Hold the run's findings against a ``PLANTED.json``.

    Returns one ``PlantedKind`` per check of the suites the truth covers, and the
    problems: a check of those suites whose findings differ from the planted ones in any
    row, or a check of another suite that failed (warnings there are the 835s' own).
    """
    planted = _planted_keys(truth)
    suites = {k[0] for k in planted}
    mark = "?" if wh.kind == "duckdb" else "%s"
    rows = wh.query("select suite_name, expectation_name, claim_id, service_line_id, file_id, "
                    f"amount_at_stake from dq.findings where run_id = {mark}", (run_id,))
    found = Counter((r[0], r[1], r[2], r[3], r[4], Decimal(r[5]).quantize(Decimal("0.01")))
                    for r in rows if r[0] in suites)
    results = wh.query("select suite_name, expectation_name, severity, status "
                       f"from dq.check_results where run_id = {mark}", (run_id,))

    kinds, problems = [], []
    for suite, check, severity, status in sorted(results):
        if suite not in suites:
            if status in ("failed", "error"):
                problems.append(f"{suite}.{check} {status}; nothing was planted for it")
            continue
        want = Counter({k: n for k, n in planted.items() if k[:2] == (suite, check)})
        got = Counter({k: n for k, n in found.items() if k[:2] == (suite, check)})
        kind = PlantedKind(check, severity, *_rows_and_dollars(want), *_rows_and_dollars(got),
                           exact=want == got and status != "error")
        if kind.planted_rows or kind.found_rows:
            kinds.append(kind)
        if not kind.exact:
            problems.append(f"{suite}.{check}: planted {kind.planted_rows} row(s) "
                            f"${kind.planted_amount:,.2f}, found {kind.found_rows} row(s) "
                            f"${kind.found_amount:,.2f} ({status})")
    checked = {(r[0], r[1]) for r in results}
    for suite, check in sorted({k[:2] for k in planted} - checked):
        problems.append(f"{suite}.{check}: planted, but the check did not run")
    return kinds, problems


def _rows_and_dollars(findings: Counter) -> tuple[int, Decimal]:
    return (sum(findings.values()),
            sum((key[5] * n for key, n in findings.items()), Decimal("0.00")))


def _docs_path(data_dir: Path) -> Path | None:
    found = sorted((data_dir / "data_docs").glob("**/index.html"))
    return found[0] if found else None


def _stale_warehouse(warehouse: str, samples: Path) -> str | None:
    """Why a kept demo warehouse cannot be reused, or None: it holds 835 files that are
    not the bundled samples of this checkout (they were written again since, so the old
    and new copies would be the same payments twice and the findings no longer those of
    PLANTED.json)."""
    import hashlib

    if "://" in warehouse or not Path(warehouse).exists():
        return None
    import duckdb

    try:
        with duckdb.connect(warehouse, read_only=True) as con:
            loaded = {row[0] for row in con.execute(
                "select file_id from raw.file_manifest where status = 'loaded'").fetchall()}
    except duckdb.Error:
        return None  # no manifest yet (or not a warehouse the loader made): nothing to compare
    bundled = {hashlib.sha256(p.read_bytes()).hexdigest() for p in samples.glob("*.835")}
    others = len(loaded - bundled)
    if others:
        return f"the demo warehouse holds {others} file(s) other than today's bundled samples"
    return None


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    files = _sample_files(args.samples)
    if not files:
        print(f"no 835 files in {args.samples}; write the bundled samples first "
              "(python -m etl.generator) or pass --samples DIR", file=sys.stderr)
        return 1
    ledger_dir = None if args.no_ledger else args.ledger
    if ledger_dir is not None and not any(ledger_dir.glob("*.csv")):
        print(f"no ledger files in {ledger_dir}; pass --ledger DIR or --no-ledger",
              file=sys.stderr)
        return 1
    truth_path = ledger_dir / "PLANTED.json" if ledger_dir is not None else None
    truth = json.loads(truth_path.read_text()) if truth_path and truth_path.is_file() else None

    data_dir = DEMO / "data"
    home = VAR / "airflow"
    stale = _stale_warehouse(args.warehouse, args.samples)
    if stale and not args.fresh:
        print(f"[demo] {stale}: starting from an empty warehouse (as with --fresh)",
              file=sys.stderr)
    if args.fresh or stale:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)
        if "://" not in args.warehouse:
            for suffix in ("", ".wal"):
                Path(args.warehouse + suffix).unlink(missing_ok=True)

    # Configure Airflow before anything imports it: its settings are read at import.
    from etl import airflow_env

    dbt_mode = {}
    if not args.production_dbt:
        dbt_mode["ERAFLOW_DBT_INVOCATION"] = os.environ.get("ERAFLOW_DBT_INVOCATION",
                                                            "dbt_runner")
    if not args.verbose:
        dbt_mode["DBT_QUIET"] = os.environ.get("DBT_QUIET", "true")
    # The demo's own ledger folder, or none: never one configured in the shell.
    for name in ("ERAFLOW_LEDGER_SFTP_INBOX", "ERAFLOW_LEDGER_SFTP_CONN_ID",
                 "ERAFLOW_LEDGER_SFTP_ARCHIVE", "ERAFLOW_LEDGER_SFTP_PATTERN",
                 "ERAFLOW_LEDGER_MAP"):
        os.environ.pop(name, None)
    if ledger_dir is not None:
        dbt_mode["ERAFLOW_LEDGER_SFTP_INBOX"] = "/ledger"
    airflow_env.configure(
        home,
        **dbt_mode,
        ERAFLOW_WAREHOUSE=args.warehouse,
        ERAFLOW_DATA_DIR=str(data_dir),
        ERAFLOW_TASK_RETRIES="0",  # a demo should fail fast, not wait five minutes
        ERAFLOW_SFTP_CONN_ID="sftp_era",
        ERAFLOW_SFTP_INBOX="/inbox",
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO" if args.verbose else "WARNING",
    )
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.verbose:
        # One warning per dbt unit test ("Unavailable conversion function for
        # UNIT_TEST"): cosmos gives unit tests no task of their own, but the dbt test
        # task runs them (astronomer-cosmos issue #1386).
        logging.getLogger("cosmos.airflow.graph").setLevel(logging.ERROR)
    print(f"[demo] dbt: {os.environ.get('ERAFLOW_DBT_INVOCATION', 'subprocess')} invocation, "
          f"tests {os.environ.get('ERAFLOW_DBT_TEST_BEHAVIOR', 'after_all').replace('_', ' ')}",
          flush=True)
    print(f"[demo] Airflow home {home} (SQLite); migrating the metadata DB ...", flush=True)
    airflow_env.migrate(home)

    from etl.sftp_server import LoopbackSftpServer, load_or_create_host_key

    sftp_root = DEMO / "sftp"
    inbox = _fill_inbox(sftp_root / "root", files)
    shutil.rmtree(sftp_root / "root" / "ledger", ignore_errors=True)
    ledger_folder, ledger_files = (_fill_ledger_folder(sftp_root / "root", ledger_dir)
                                   if ledger_dir is not None else (None, []))
    password = secrets.token_urlsafe(16)
    host_key = load_or_create_host_key(sftp_root / "host_key")
    with LoopbackSftpServer(sftp_root / "root", password=password, host_key=host_key) as server:
        airflow_env.set_connection(
            "sftp_era", "sftp", host=server.host, port=server.port, login=server.username,
            password=password, extra=server.connection_extra())
        print(f"[demo] SFTP server on {server.host}:{server.port}, host key "
              f"{server.host_key_line[:40]}... pinned; {len(files)} file(s) in /inbox", flush=True)
        if ledger_folder is not None:
            print(f"[demo] posting ledger: {len(ledger_files)} file(s) and the code map in "
                  "/ledger", flush=True)

        print("[demo] parsing dags/era_ingest.py and running it with dag.test() ...", flush=True)
        if truth is not None:
            print("[demo] the ledger's planted mispostings fail run_checks on purpose, and "
                  "fail_run_if_a_task_failed after it: their errors below are expected",
                  flush=True)
        dag = airflow_env.load_dag("era_ingest")
        dag_run = airflow_env.run_dag(dag)
        states = airflow_env.task_states(dag_run)
        archived = _archived(inbox)
        ledger_archived = _archived(ledger_folder) if ledger_folder is not None else []

    from etl.pipeline import summarize
    from etl.warehouse import Warehouse

    wh = Warehouse.from_url(args.warehouse)
    docs = _docs_path(data_dir)
    summary = summarize(wh, run_id=dag_run.run_id, docs_path=str(docs) if docs else None)

    print()
    print(f"era_ingest run {dag_run.run_id}: {dag_run.state}")
    print(f"  tasks: {sum(s == 'success' for s in states.values())}/{len(states)} succeeded")
    failed = sorted(t for t, s in states.items() if s not in ("success", "skipped"))
    if failed:
        print(f"  not successful: {', '.join(f'{t} ({states[t]})' for t in failed)}")
    print(f"  SFTP: {len(archived)} of {len(files)} file(s) moved to /inbox/archive")
    if ledger_folder is not None:
        print(f"  SFTP: {len(ledger_archived)} of {len(ledger_files)} ledger file(s) moved to "
              "/ledger/archive")
    print(f"  warehouse: {wh.url}")
    for line in summary.lines():
        print(f"  {line}")
    if not docs:
        print("  Data Docs                 not built")

    if truth is None:
        return 0 if str(dag_run.state) == "success" else 1
    # Planted findings fail run_checks, and so the run; they are the only acceptable cause.
    caught = _report_planted(wh, dag_run.run_id, truth, truth_path)
    unexpected = set(failed) - EXPECTED_TO_FAIL
    if unexpected:
        print(f"tasks that should not have failed: {', '.join(sorted(unexpected))}")
    return 0 if caught and not unexpected else 1


# What the planted findings fail: the checks, and the task that fails the run after them.
EXPECTED_TO_FAIL = {"run_checks", "fail_run_if_a_task_failed"}


def _archived(folder: Path) -> list[str]:
    archive = folder / "archive"
    return sorted(p.name for p in archive.iterdir()) if archive.is_dir() else []


def _report_planted(wh, run_id: str, truth: dict, truth_path: Path) -> bool:
    """Print each planted kind with what was found; True when all are caught exactly."""
    kinds, problems = compare_with_planted(wh, run_id, truth)
    shown = truth_path.relative_to(REPO) if truth_path.is_relative_to(REPO) else truth_path
    print()
    print(f"planted mispostings ({shown}): check, severity, planted and found rows and dollars")
    width = max((len(k.check) for k in kinds), default=0)
    for k in kinds:
        verdict = "caught exactly" if k.exact else "MISMATCH"
        planted, found = f"${k.planted_amount:,.2f}", f"${k.found_amount:,.2f}"
        print(f"  {k.check:{width}} {k.severity:7} planted {k.planted_rows:>2} {planted:>11}  "
              f"found {k.found_rows:>2} {found:>11}  {verdict}")
    for problem in problems:
        print(f"  problem: {problem}")
    if problems:
        print("the findings differ from the planted mispostings: the demo failed")
        return False
    rows = sum(k.planted_rows for k in kinds)
    dollars = sum((k.planted_amount for k in kinds), Decimal("0.00"))
    print(f"every planted kind caught exactly: {len(kinds)} kinds, {rows} rows, "
          f"${dollars:,.2f} (run_checks fails on them, as planted)")
    return True

if __name__ == "__main__":
    sys.exit(main())
