"""A local, throwaway Airflow installation for the demo and the tests.

Airflow reads its configuration when ``airflow`` is first imported, so
:func:`configure` must run before any ``import airflow`` in the process (the
demo calls it first thing; ``tests/conftest.py`` calls it from
``pytest_configure``). Nothing here imports Airflow at module level.

The local installation is:

- ``AIRFLOW_HOME`` under the repo's git-ignored ``var/`` (or a temp folder);
- SQLite metadata, created by ``airflow db migrate`` (``dag.test()`` and even
  parsing a cosmos DAG need the tables: cosmos caches ``dbt ls`` in Variables);
- the DAG bundle pointed at the repo's ``dags/`` (``dag.test()`` refuses a DAG
  file that lives outside every bundle);
- connections passed as ``AIRFLOW_CONN_<ID>`` environment variables, so no
  secret is ever written to the metadata DB.

Known limitation: SQLite metadata means one process at a time; it is for
``dag.test()`` and ``airflow dags test``, not for a scheduler with workers.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DAGS_FOLDER = REPO / "dags"
DEFAULT_HOME = REPO / "var" / "airflow"


def airflow_settings(home: Path, dags_folder: Path = DAGS_FOLDER) -> dict[str, str]:
    """The ``AIRFLOW__*`` environment of a local SQLite installation in ``home``."""
    home = Path(home).resolve()
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(Path(dags_folder).resolve()),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos_cache"),
        # The first parse runs `dbt ls` (cosmos caches it afterwards); on a busy laptop
        # that alone can pass the 30 s default and the DAG then "fails to import".
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
        # No phoning home from a test run.
        "AIRFLOW__CORE__ANALYTICS_ENABLED": "False",
        "SCARF_ANALYTICS": "false",
        "DO_NOT_TRACK": "true",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    }


def configure(home: Path = DEFAULT_HOME, dags_folder: Path = DAGS_FOLDER,
              **extra_env: str) -> dict[str, str]:
    """Point this process (and its children) at the local installation in ``home``."""
    env = airflow_settings(home, dags_folder) | {k: str(v) for k, v in extra_env.items()}
    if "airflow" in sys.modules and os.environ.get("AIRFLOW_HOME") != env["AIRFLOW_HOME"]:
        # The configuration was already read; changing the environment now would
        # leave this process and its children disagreeing about the metadata DB.
        raise RuntimeError("configure() must run before airflow is imported")
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    os.environ.update(env)
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    return env


def _airflow_cli() -> list[str]:
    exe = Path(sys.executable).with_name("airflow")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "airflow"]


def migrate(home: Path | None = None, *, timeout: int = 600) -> None:
    """Create or upgrade the metadata DB (``airflow db migrate``), once per Airflow version.

    Runs in a child process so the migration's own logging and ORM set-up do not
    leak into the caller; a stamp file makes later calls free.
    """
    home = Path(home or os.environ["AIRFLOW_HOME"]).resolve()
    from importlib.metadata import version

    stamp = home / f".migrated-{version('apache-airflow-core')}"
    if stamp.exists() and (home / "airflow.db").exists():
        return
    env = os.environ | airflow_settings(home, Path(os.environ.get(
        "AIRFLOW__CORE__DAGS_FOLDER", DAGS_FOLDER)))
    proc = subprocess.run([*_airflow_cli(), "db", "migrate"], env=env, capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        raise RuntimeError(f"airflow db migrate failed (exit {proc.returncode}):\n{tail}")
    stamp.touch()
    log.info("Airflow metadata DB ready in %s", home)


def set_connection(conn_id: str, conn_type: str, *, host: str | None = None,
                   port: int | None = None, login: str | None = None,
                   password: str | None = None, schema: str | None = None,
                   extra: dict[str, Any] | None = None) -> str:
    """Publish a connection as ``AIRFLOW_CONN_<ID>`` JSON; returns the variable name."""
    body: dict[str, Any] = {"conn_type": conn_type}
    for key, value in (("host", host), ("port", port), ("login", login),
                       ("password", password), ("schema", schema)):
        if value is not None:
            body[key] = value
    if extra:
        body["extra"] = extra
    name = "AIRFLOW_CONN_" + conn_id.upper()
    os.environ[name] = json.dumps(body)
    return name


def connections_from_env() -> list[str]:
    """Turn ``ERAFLOW_SFTP_URL`` (an ``sftp://`` source URL) into the ``sftp_era`` connection.

    Lets a laptop or CI job name the SFTP server with one variable instead of the
    Airflow connection JSON. Returns the variables it set.
    """
    url = os.environ.get("ERAFLOW_SFTP_URL")
    if not url:
        return []
    from etl.sftp import export_connection, source_from_url

    source = source_from_url(url, os.environ.get("ERAFLOW_SFTP_CONN_ID", "sftp_era"))
    os.environ.setdefault("ERAFLOW_SFTP_INBOX", source.inbox)
    os.environ.setdefault("ERAFLOW_SFTP_ARCHIVE", source.archive_dir)
    os.environ.setdefault("ERAFLOW_SFTP_PATTERN", source.pattern)
    return [export_connection(source)]


def load_dag(dag_id: str = "era_ingest", dags_folder: Path | None = None) -> Any:
    """Parse the DAG folder the way the dag-processor does and return ``dag_id``.

    Raises with the import error if the file does not parse.
    """
    from airflow.dag_processing.dagbag import DagBag

    folder = Path(dags_folder or os.environ.get("AIRFLOW__CORE__DAGS_FOLDER", DAGS_FOLDER))
    bag = DagBag(dag_folder=str(folder))
    if bag.import_errors:
        raise RuntimeError("DAG import errors:\n" + "\n".join(
            f"{path}: {err}" for path, err in bag.import_errors.items()))
    if dag_id not in bag.dags:
        raise LookupError(f"no DAG {dag_id!r} in {folder} (found {sorted(bag.dags)})")
    return bag.dags[dag_id]


def run_dag(dag: Any, *, run_conf: dict[str, Any] | None = None) -> Any:
    """One run of ``dag`` in this process with ``dag.test()``; returns the DagRun.

    Each call gets its own logical date (now), so two calls make two runs.
    """
    dag_run = dag.test(run_conf=run_conf)
    log.info("DAG %s run %s finished %s", dag.dag_id, dag_run.run_id, dag_run.state)
    return dag_run


def task_states(dag_run: Any) -> dict[str, str]:
    """``task_id -> state`` for a finished DagRun (map indexes folded together)."""
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = dag_run.get_task_instances(session=session)
        return {ti.task_id: str(ti.state) for ti in tis}
