"""
### era_ingest: 835 remittances and the posting ledger, from SFTP to checked marts

Every run (hourly unless `ERAFLOW_SCHEDULE` says otherwise):

1. **fetch_new_files**: list the SFTP inbox (connection `sftp_era`, folder
   `ERAFLOW_SFTP_INBOX`, default `/inbox`) and download each waiting file into a
   landing folder for this run under `ERAFLOW_DATA_DIR`. Host keys are verified.
2. **load_files**: load the files into the `raw` schema of `ERAFLOW_WAREHOUSE`
   (`etl.loader.ingest_paths`). A file whose bytes were loaded before is skipped; a
   broken one is rejected and quarantined with a one-line reason. Then every handled
   file is moved into the inbox's `archive/` folder on the server, so it is not
   fetched again. If loading fails, nothing is archived and the next run retries.
3. **load_ledger_files**: the practice's posting-ledger exports (`docs/LEDGER.md`) from
   their own SFTP folder, `ERAFLOW_LEDGER_SFTP_INBOX` (e.g. `/ledger`, beside the 835
   inbox), into `raw.ledger_manifest` and `raw.ledger_rows` (`etl.ledger`): the same
   hashing, skip-if-seen, quarantine and archive-after-load as the 835s. The code map
   `local_codes.csv` in that folder (or the local file `ERAFLOW_LEDGER_MAP`) is read
   every run and never archived; while it is rejected, the ledger files stay in the
   folder for a corrected one. With `ERAFLOW_LEDGER_SFTP_INBOX` unset the task does
   nothing and the reconciliation checks have nothing to check.
4. **dbt**: the dbt project `eraflow` (seeds, staging, intermediate, marts, the
   `rec_*` reconciliation marts), one Airflow task per seed and model, then one task
   for all the dbt tests, rendered by astronomer-cosmos. It starts once both loads
   have succeeded.
5. **run_checks**: the Great Expectations suites in `expectations/`; results go to
   `dq.check_results`, every failing row to `dq.findings`, and the Data Docs site is
   rebuilt. A failed expectation fails this task (without retries) but the loaded data
   and built marts stay.
6. **summarize**: headline figures (files, claims, paid, CO-253 sequestration, review
   queue), the ledger's figures, and each check of the run with its status, rows found
   and dollars at stake, in the task log and XCom. It runs when the checks fail too
   (trigger rule `all_done_min_one_success`), so a failed run still says what it
   found; it does not run when `load_files` failed.
7. **fail_run_if_a_task_failed**: skipped when everything succeeded; otherwise it fails,
   so that the run fails too. (Airflow decides a run's state from its last tasks only,
   and `summarize` succeeds even after `run_checks` failed.)

The tasks only call the `etl` package; the same steps run from `eraflow run --ledger`.

**Planted mispostings**: the bundled demo ledger (`sample_data/ledger/`) holds
mispostings on purpose, so with it `run_checks` fails and so does the run. `make demo`
accepts that run only when the findings of each check are exactly the ones
`sample_data/ledger/PLANTED.json` lists, and says so; the DAG itself has no such
exception: in production a finding is a finding.

**Settings** (environment): `ERAFLOW_WAREHOUSE` (DuckDB file or `postgresql://` URL),
`ERAFLOW_DATA_DIR`, `ERAFLOW_SCHEDULE` (cron, preset or `none`), `ERAFLOW_SFTP_CONN_ID`,
`ERAFLOW_SFTP_INBOX`, `ERAFLOW_SFTP_ARCHIVE`, `ERAFLOW_SFTP_PATTERN`,
`ERAFLOW_SFTP_MIN_AGE_SECONDS`; for the ledger `ERAFLOW_LEDGER_SFTP_INBOX` (unset: no
ledger), `ERAFLOW_LEDGER_SFTP_CONN_ID` (default: the 835 connection),
`ERAFLOW_LEDGER_SFTP_ARCHIVE` (default `archive`, inside the ledger folder),
`ERAFLOW_LEDGER_SFTP_PATTERN` (default `*.csv`), `ERAFLOW_LEDGER_MAP`; then
`ERAFLOW_TASK_RETRIES`, `ERAFLOW_DBT_TEST_BEHAVIOR`
(`after_all`, the default, or `after_each`), `ERAFLOW_DBT_INVOCATION` (`subprocess`, the
default, runs `ERAFLOW_DBT_EXECUTABLE` or the `dbt` beside this Python; `dbt_runner` runs
dbt inside the task process), `ERAFLOW_CHECK_SCOPE` (`run_files`, the default: the
suites on the 835s alone check the rows of the files this run loaded, so each finding
is recorded once; `all`: every row on every run; the reconciliation always checks
every row).

**Limitations**: with a DuckDB warehouse only one task runs at a time (DuckDB takes one
writer process), so the dbt models run one after another. Each dbt task is its own dbt
invocation (a few seconds of start-up each), so the dbt group takes minutes, not
seconds; that is why the dbt tests run once after all models (`after_all`) rather than
after each one, which would double the task count. The cost: a model whose tests fail
does not stop the models built on it; the test task then fails, `run_checks` does not
run and the DAG run fails, but the marts already hold that run's rebuild. dbt and the
checks run on every run, even when no new file arrived, so the marts always match
`raw`. When the ledger task fails (its SFTP folder is unreachable or holds no code map),
dbt does not run for the new 835s either until it succeeds: the marts and the
reconciliation are built from both feeds or not at all.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import TriggerRule, dag, get_current_context, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior

REPO = Path(os.environ.get("ERAFLOW_REPO") or Path(__file__).resolve().parents[1]).resolve()
if str(REPO) not in sys.path:  # the DAG bundle is dags/; the etl package sits beside it
    sys.path.insert(0, str(REPO))

from etl.sftp import settings_from_env  # noqa: E402  (light: no provider import)
from etl.warehouse import Warehouse  # noqa: E402

DBT_PROJECT = Path(os.environ.get("ERAFLOW_DBT_PROJECT") or REPO / "dbt_project").resolve()
DATA_DIR = Path(os.environ.get("ERAFLOW_DATA_DIR") or REPO / "var" / "data").resolve()
WAREHOUSE_URL = os.environ.get("ERAFLOW_WAREHOUSE") or str(REPO / "var" / "warehouse.duckdb")


def _schedule() -> str | None:
    value = os.environ.get("ERAFLOW_SCHEDULE", "@hourly").strip()
    return None if value.lower() in ("", "none", "null", "manual") else value


def _dbt_executable() -> str:
    configured = os.environ.get("ERAFLOW_DBT_EXECUTABLE")
    if configured:
        return configured
    beside_python = Path(sys.executable).with_name("dbt")
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


def _warehouse() -> Warehouse:
    return Warehouse.from_url(WAREHOUSE_URL)


def _run_id() -> str:
    return get_current_context()["run_id"]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


WAREHOUSE = _warehouse()
RETRIES = int(os.environ.get("ERAFLOW_TASK_RETRIES", "2"))
DBT_EXE = _dbt_executable()
TEST_BEHAVIOR = TestBehavior(os.environ.get("ERAFLOW_DBT_TEST_BEHAVIOR", "after_all"))
DBT_INVOCATION = InvocationMode(os.environ.get("ERAFLOW_DBT_INVOCATION", "subprocess"))

# profiles.yml reads the warehouse from ERAFLOW_* variables. The non-secret ones go in
# the task definition; the PostgreSQL password stays out of it (operator env is
# serialized into the metadata DB and shown in the UI) and reaches dbt through this
# process's environment instead, which the dbt subprocess inherits. (Airflow 3 parses
# this file again in every task process, so the variable is set there too.)
DBT_ENV = WAREHOUSE.dbt_env()
_password = DBT_ENV.pop("ERAFLOW_PG_PASSWORD", "")
if _password:
    os.environ["ERAFLOW_PG_PASSWORD"] = _password


@dag(
    dag_id="era_ingest",
    schedule=_schedule(),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    # DuckDB: one writer process at a time, so one task at a time.
    max_active_tasks=1 if WAREHOUSE.kind == "duckdb" else 8,
    dagrun_timeout=timedelta(hours=6),
    tags=["eraflow", "x12-835", "remittance", "sftp", "dbt", "data-quality"],
    doc_md=__doc__,
    default_args={
        "owner": "eraflow",
        "retries": RETRIES,
        "retry_delay": timedelta(minutes=5),
        "execution_timeout": timedelta(hours=2),
    },
)
def era_ingest():
    @task
    def fetch_new_files() -> list[dict]:
        """Download the files waiting in the SFTP inbox into this run's landing folder."""
        from etl import sftp

        cfg = settings_from_env()
        landing = DATA_DIR / "landing" / _safe(_run_id())
        fetched = sftp.fetch_new_files(
            landing,
            conn_id=cfg["conn_id"],
            inbox=cfg["inbox"],
            pattern=cfg["pattern"],
            min_age_seconds=cfg["min_age_seconds"],
        )
        return [f.to_dict() for f in fetched]

    @task
    def load_files(fetched: list[dict]) -> dict:
        """Load the landed files into `raw`, then archive them on the server."""
        from etl import sftp
        from etl.loader import ingest_paths

        cfg = settings_from_env()
        files = [sftp.FetchedFile.from_dict(f) for f in fetched]
        hook = sftp.open_hook(cfg["conn_id"]) if files else None
        where = f"{hook.remote_host}:{hook.port}" if hook else ""
        paths = [Path(f.local_path) for f in files]
        uris = {Path(f.local_path): f"sftp://{where}{f.remote_path}" for f in files}

        # An empty batch still runs: it creates the raw schema on a new warehouse.
        report = ingest_paths(paths, _warehouse(), quarantine_dir=DATA_DIR / "quarantine",
                              run_id=_run_id(), source_uris=uris)
        sftp.archive_files([f.remote_path for f in files], conn_id=cfg["conn_id"],
                           inbox=cfg["inbox"], archive_dir=cfg["archive_dir"], hook=hook)

        # Loaded bytes are in the warehouse, rejected files in quarantine, originals in
        # the server's archive: the landing copies are no longer needed.
        for path in paths:
            path.unlink(missing_ok=True)
        if paths:
            shutil.rmtree(paths[0].parent, ignore_errors=True)
        return {
            "fetched": len(files),
            "loaded": len(report.loaded),
            "skipped": len(report.skipped),
            "rejected": len(report.rejected),
            "rejected_files": [r.name for r in report.rejected],
        }

    @task
    def load_ledger_files() -> dict:
        """Fetch, load and archive the posting-ledger files of the ledger SFTP folder."""
        import logging

        from etl.ledger import run_ledger_task

        result = run_ledger_task(_warehouse(), DATA_DIR, _run_id())
        if result["configured"]:
            logging.getLogger("airflow.task").info(
                "ledger: %d loaded (%d rows), %d skipped, %d rejected %s; code map %s",
                result["loaded"], result["rows"], result["skipped"], result["rejected"],
                result["rejected_files"], result["code_map"])
        return result

    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(
            dbt_project_path=DBT_PROJECT,
            env_vars=DBT_ENV,
            install_dbt_deps=any((DBT_PROJECT / f).exists()
                                 for f in ("packages.yml", "dependencies.yml")),
        ),
        profile_config=ProfileConfig(
            profile_name="eraflow",
            target_name=DBT_ENV["ERAFLOW_DBT_TARGET"],
            profiles_yml_filepath=DBT_PROJECT / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            dbt_executable_path=DBT_EXE,
            invocation_mode=DBT_INVOCATION,
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_LS,
            dbt_executable_path=DBT_EXE,
            invocation_mode=InvocationMode.SUBPROCESS,
            test_behavior=TEST_BEHAVIOR,
            # With after_each: a relationships test reads two models, and cosmos would
            # otherwise run it with one of them, possibly before the other exists ("Table
            # ... does not exist"). Give such tests their own task after all parents.
            should_detach_multiple_parents_tests=True,
            # Cosmos's OpenLineage-style asset URIs are rejected by Airflow 3's asset URI
            # rules (it logs a warning per model and emits inactive assets): leave them out.
            emit_datasets=False,
        ),
        default_args={"retries": RETRIES},
    )

    @task
    def run_checks() -> dict:
        """Run the expectation suites; fail (no retry) if any expectation fails."""
        from airflow.sdk.exceptions import AirflowFailException

        from etl.checks import run_checks as run_suites

        # ERAFLOW_CHECK_SCOPE=run_files (the default): the 835-only suites check the rows
        # of the files this run loaded, once; `all` checks every row every run.
        scoped = os.environ.get("ERAFLOW_CHECK_SCOPE", "run_files") != "all"
        summary = run_suites(_warehouse(), run_id=_run_id(), docs_dir=DATA_DIR / "data_docs",
                             files_of_run=_run_id() if scoped else None)
        result = {"passed": summary.passed, "failed": summary.failed,
                  "warnings": getattr(summary, "warnings", 0),
                  "docs_path": str(summary.docs_path) if summary.docs_path else None}
        if summary.failed:
            get_current_context()["ti"].xcom_push(key="check_summary", value=result)
            raise AirflowFailException(
                f"{summary.failed} data-quality check(s) failed, {summary.passed} passed; "
                f"see dq.check_results for run {_run_id()} and the Data Docs at "
                f"{result['docs_path']}")
        return result

    @task(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
    def summarize(load: dict) -> dict:
        """Log the headline figures and each check of this run, failed checks included."""
        import logging

        from etl.pipeline import summarize as headline

        # run_checks returns its figures when every check passed and pushes them under
        # another key before it fails; neither is there when it did not run.
        ti = get_current_context()["ti"]
        checks = (ti.xcom_pull(task_ids="run_checks")
                  or ti.xcom_pull(task_ids="run_checks", key="check_summary") or {})
        s = headline(_warehouse(), run_id=_run_id(), docs_path=checks.get("docs_path"))
        log = logging.getLogger("airflow.task")
        log.info("this run: %d fetched, %d loaded, %d skipped, %d rejected",
                 load["fetched"], load["loaded"], load["skipped"], load["rejected"])
        for line in s.lines():
            log.info("%s", line)
        return {
            "run": load,
            "files_loaded": s.files_loaded,
            "files_rejected": s.files_rejected,
            "claims": s.claims,
            "total_paid": str(s.total_paid),
            "total_sequestration": str(s.total_sequestration),
            "review_queue_claims": s.review_queue_claims,
            "checks_passed": s.checks_passed,
            "checks_failed": s.checks_failed,
            "checks": [c.to_dict() for c in s.checks],
            "docs_path": s.docs_path,
        }

    @task(trigger_rule=TriggerRule.ONE_FAILED)
    def fail_run_if_a_task_failed() -> None:
        """Fail the run when a task before it failed (it is skipped otherwise)."""
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException("a task of this run failed; see run_checks or the task "
                                   "marked failed (the summary was still logged)")

    loaded = load_files(fetch_new_files())
    ledger_loaded = load_ledger_files()
    checked = run_checks()
    [loaded, ledger_loaded] >> dbt >> checked
    summary = summarize(loaded)
    checked >> summary
    [loaded, ledger_loaded, checked, summary] >> fail_run_if_a_task_failed()


era_ingest()
