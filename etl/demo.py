"""``make demo``: the whole pipeline on a laptop, through the real Airflow DAG.

What it does, all under the repo's git-ignored ``var/``:

1. a local Airflow (``var/airflow``: SQLite metadata, ``airflow db migrate``, the
   DAG bundle pointed at ``dags/``);
2. an SFTP server on 127.0.0.1 (the same loopback server the tests use) whose
   ``/inbox`` is filled with the bundled ``sample_data/era/*.835``; its ed25519 host
   key is kept in ``var/demo/sftp/host_key`` and pinned in the ``sftp_era``
   connection, so host-key verification is on, as in production;
3. one run of the ``era_ingest`` DAG with ``dag.test()``: fetch over SFTP, load,
   dbt (via cosmos), expectation suites, summary;
4. the headline figures read back from the warehouse.

Run it again and the loader recognises every file (same bytes), so the figures stay
the same; ``--fresh`` starts from an empty warehouse.

To stay quick on a laptop the demo runs dbt inside the task process
(``ERAFLOW_DBT_INVOCATION=dbt_runner``): dbt is imported once instead of once per
model. ``--production-dbt`` runs the DAG's default, one ``dbt`` subprocess per task,
which takes about twice as long.

Exit code 0 when the DAG run succeeded, 1 otherwise (the figures are printed either
way, with the failed tasks).
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VAR = REPO / "var"
DEMO = VAR / "demo"

log = logging.getLogger("eraflow.demo")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m etl.demo", description=__doc__.split("\n")[0])
    p.add_argument("--samples", type=Path, default=REPO / "sample_data" / "era",
                   help="folder of 835 files to put in the SFTP inbox (default: %(default)s)")
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


def _docs_path(data_dir: Path) -> Path | None:
    found = sorted((data_dir / "data_docs").glob("**/index.html"))
    return found[0] if found else None


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    files = _sample_files(args.samples)
    if not files:
        print(f"no 835 files in {args.samples}; write the bundled samples first "
              "(python -m etl.generator) or pass --samples DIR", file=sys.stderr)
        return 1

    data_dir = DEMO / "data"
    home = VAR / "airflow"
    if args.fresh:
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
    password = secrets.token_urlsafe(16)
    host_key = load_or_create_host_key(sftp_root / "host_key")
    with LoopbackSftpServer(sftp_root / "root", password=password, host_key=host_key) as server:
        airflow_env.set_connection(
            "sftp_era", "sftp", host=server.host, port=server.port, login=server.username,
            password=password, extra=server.connection_extra())
        print(f"[demo] SFTP server on {server.host}:{server.port}, host key "
              f"{server.host_key_line[:40]}... pinned; {len(files)} file(s) in /inbox", flush=True)

        print("[demo] parsing dags/era_ingest.py and running it with dag.test() ...", flush=True)
        dag = airflow_env.load_dag("era_ingest")
        dag_run = airflow_env.run_dag(dag)
        states = airflow_env.task_states(dag_run)
        archived = sorted(p.name for p in (inbox / "archive").glob("*")) if (
            inbox / "archive").exists() else []

    from etl.pipeline import summarize
    from etl.warehouse import Warehouse

    wh = Warehouse.from_url(args.warehouse)
    docs = _docs_path(data_dir)
    summary = summarize(wh, run_id=dag_run.run_id, docs_path=str(docs) if docs else None)
    ok = str(dag_run.state) == "success"

    print()
    print(f"era_ingest run {dag_run.run_id}: {dag_run.state}")
    print(f"  tasks: {sum(s == 'success' for s in states.values())}/{len(states)} succeeded")
    failed = sorted(t for t, s in states.items() if s not in ("success", "skipped"))
    if failed:
        print(f"  not successful: {', '.join(f'{t} ({states[t]})' for t in failed)}")
    print(f"  SFTP: {len(archived)} of {len(files)} file(s) moved to /inbox/archive")
    print(f"  warehouse: {wh.url}")
    for line in summary.lines():
        print(f"  {line}")
    if not docs:
        print("  Data Docs                 not built")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
