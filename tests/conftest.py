"""Shared fixtures: a loopback SFTP server, warehouses, and a local Airflow.

- ``sftp`` (function): an in-process asyncssh SFTP server on 127.0.0.1 serving a
  temp tree with an empty ``/inbox``; user ``era`` with a password; the host key is
  one ed25519 key made once per session (``sftp_host_key``). ``sftp_conn`` also
  publishes it as the Airflow connection ``sftp_era`` (``AIRFLOW_CONN_SFTP_ERA``).
- ``duckdb_path`` / ``duckdb_wh`` (function): a fresh DuckDB file in ``tmp_path``.
- ``postgres_url`` (session): a new database on 127.0.0.1:5432 (user ``postgres``,
  trust auth), dropped at the end. Skipped when the server is unreachable, unless
  ``ERAFLOW_REQUIRE_POSTGRES=1``, then the tests fail instead.
  ``pg_wh`` (function) is that database with the ``raw``/``staging``/``marts``/``dq``
  schemas dropped first, so each test starts empty.
- ``warehouse`` (function, parametrized): ``duckdb_wh`` and ``pg_wh`` in turn.
- ``airflow_db`` (session): the session's ``AIRFLOW_HOME`` (set up in
  ``pytest_configure`` before anything imports Airflow) with its SQLite metadata
  migrated.
- ``sample_files`` (session): the bundled ``sample_data/era/*.835``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sftp_server import (  # noqa: E402  (tests/ is on sys.path, as for any conftest)
    PASSWORD,
    USER,
    LoopbackSftpServer,
    SftpFixture,
    generate_host_key,
)

from etl.warehouse import Warehouse  # noqa: E402

PG_ADMIN_URL = os.environ.get("ERAFLOW_TEST_POSTGRES",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
WAREHOUSE_SCHEMAS = ("raw", "staging", "marts", "dq")

_AIRFLOW_HOME: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Give the session its own AIRFLOW_HOME before any test module imports Airflow."""
    global _AIRFLOW_HOME
    for name, text in (
        ("unit", "fast, no server or external process"),
        ("integration", "talks to a real server, database or subprocess"),
    ):
        config.addinivalue_line("markers", f"{name}: {text}")

    if "airflow" in sys.modules:  # a plugin got there first; keep what it configured
        return
    _AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="eraflow-airflow-"))
    from etl import airflow_env

    airflow_env.configure(_AIRFLOW_HOME)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _AIRFLOW_HOME is not None and not os.environ.get("ERAFLOW_KEEP_TEST_AIRFLOW"):
        shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


# -- SFTP ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sftp_host_key():
    """The test server's ed25519 host key: made once, the same for every test."""
    return generate_host_key()


@pytest.fixture
def sftp(tmp_path: Path, sftp_host_key, monkeypatch: pytest.MonkeyPatch):
    """A running loopback SFTP server with an empty ``/inbox``."""
    # paramiko reads ~/.ssh/known_hosts and ~/.ssh/config; keep the user's out of it.
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    server = LoopbackSftpServer(tmp_path / "sftp-root", username=USER, password=PASSWORD,
                                host_key=sftp_host_key)
    with server:
        yield SftpFixture(server)


@pytest.fixture
def sftp_conn(sftp: SftpFixture, monkeypatch: pytest.MonkeyPatch) -> SftpFixture:
    """``sftp`` published as the Airflow connection ``sftp_era`` with its host key pinned."""
    monkeypatch.setenv("AIRFLOW_CONN_SFTP_ERA", sftp.connection_json())
    monkeypatch.setenv("ERAFLOW_SFTP_CONN_ID", "sftp_era")
    monkeypatch.setenv("ERAFLOW_SFTP_INBOX", sftp.inbox)
    return sftp


# -- warehouses ------------------------------------------------------------------------


@pytest.fixture
def duckdb_path(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def duckdb_wh(duckdb_path: Path) -> Warehouse:
    return Warehouse.from_url(str(duckdb_path))


def _pg_admin():
    import psycopg2

    admin = Warehouse.from_url(PG_ADMIN_URL)
    con = psycopg2.connect(host=admin.host, port=admin.port, user=admin.user,
                           password=admin.password or None, dbname=admin.dbname,
                           connect_timeout=5)
    con.autocommit = True
    return admin, con


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A database of its own on the local PostgreSQL, for the whole session."""
    try:
        admin, con = _pg_admin()
    except Exception as exc:  # psycopg2.OperationalError and friends
        message = f"PostgreSQL at {Warehouse.from_url(PG_ADMIN_URL).url} unreachable: {exc}"
        if os.environ.get("ERAFLOW_REQUIRE_POSTGRES") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)

    dbname = f"eraflow_test_{uuid.uuid4().hex[:10]}"
    with con.cursor() as cur:
        cur.execute(f'create database "{dbname}"')
    auth = admin.user + (f":{admin.password}" if admin.password else "")
    try:
        yield f"postgresql://{auth}@{admin.host}:{admin.port}/{dbname}"
    finally:
        with con.cursor() as cur:
            cur.execute(f'drop database if exists "{dbname}" with (force)')
        con.close()


@pytest.fixture
def pg_wh(postgres_url: str) -> Warehouse:
    """The session database with the warehouse schemas dropped: an empty warehouse."""
    wh = Warehouse.from_url(postgres_url)
    with wh.connect() as con:
        con.autocommit = True
        with con.cursor() as cur:
            for schema in WAREHOUSE_SCHEMAS:
                cur.execute(f"drop schema if exists {schema} cascade")
    return wh


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request: pytest.FixtureRequest) -> Warehouse:
    """Each test using this runs once on DuckDB and once on PostgreSQL."""
    return request.getfixturevalue("duckdb_wh" if request.param == "duckdb" else "pg_wh")


# -- Airflow and data ------------------------------------------------------------------


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """The session's AIRFLOW_HOME, metadata DB migrated (a few seconds, once)."""
    from etl import airflow_env

    home = Path(os.environ["AIRFLOW_HOME"])
    airflow_env.migrate(home)
    return home


@pytest.fixture(scope="session")
def sample_files() -> list[Path]:
    files = sorted((REPO / "sample_data" / "era").glob("*.835"))
    if not files:
        pytest.skip("no bundled sample files in sample_data/era (run the generator)")
    return files
