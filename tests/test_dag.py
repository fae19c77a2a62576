"""The era_ingest DAG: integrity, and real runs with ``dag.test()``.

The end-to-end test serves the bundled sample files from the loopback SFTP
server, runs the whole DAG (SFTP fetch, load, dbt through cosmos, expectation
suites, summary) into a temp DuckDB file and compares the marts with totals
worked out here by a deliberately naive reading of the 835 text with
``Decimal``: no code of the pipeline is used to compute the expected figures.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from sftp_server import SftpFixture

from etl import airflow_env
from etl.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
DAG_FILE = REPO / "dags" / "era_ingest.py"
DBT_PROJECT = REPO / "dbt_project"

pytestmark = pytest.mark.airflow


def _needs_dbt_project() -> None:
    if not (DBT_PROJECT / "dbt_project.yml").exists():
        pytest.skip("dbt_project/ is not written yet")


@pytest.fixture
def dag(airflow_db, monkeypatch: pytest.MonkeyPatch):
    """era_ingest as the dag-processor sees it, with no ERAFLOW_* overrides."""
    _needs_dbt_project()
    for name in ("ERAFLOW_SCHEDULE", "ERAFLOW_TASK_RETRIES", "ERAFLOW_WAREHOUSE",
                 "ERAFLOW_DBT_TEST_BEHAVIOR"):
        monkeypatch.delenv(name, raising=False)
    return airflow_env.load_dag("era_ingest")


# -- integrity -------------------------------------------------------------------------


@pytest.mark.integration
def test_dag_imports_with_its_settings(dag):
    assert dag.dag_id == "era_ingest"
    assert dag.fileloc == str(DAG_FILE)
    assert dag.schedule == "@hourly"
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.max_active_tasks == 1  # DuckDB default warehouse: one writer at a time
    assert {"eraflow", "x12-835"} <= set(dag.tags)
    assert "era_ingest" in dag.doc_md and "SFTP" in dag.doc_md


@pytest.mark.integration
def test_every_task_retries(dag):
    for task in dag.tasks:
        assert task.retries >= 1, task.task_id
        assert task.owner == "eraflow", task.task_id


@pytest.mark.integration
def test_task_wiring(dag):
    ids = set(dag.task_dict)
    assert {"fetch_new_files", "load_files", "run_checks", "summarize"} <= ids
    dbt_tasks = sorted(t for t in ids if t.startswith("dbt."))
    assert dbt_tasks, "cosmos rendered no dbt tasks"

    assert dag.get_task("load_files").upstream_task_ids == {"fetch_new_files"}
    roots = [t for t in dbt_tasks if not dag.get_task(t).upstream_task_ids - {"load_files"}]
    leaves = dag.get_task("run_checks").upstream_task_ids
    assert roots and all("load_files" in dag.get_task(t).upstream_task_ids for t in roots)
    assert leaves and leaves <= set(dbt_tasks)
    assert dag.get_task("summarize").upstream_task_ids == {"load_files", "run_checks"}
    # every dbt task sits between load_files and run_checks
    downstream_of_load = dag.get_task("load_files").get_flat_relative_ids(upstream=False)
    upstream_of_checks = dag.get_task("run_checks").get_flat_relative_ids(upstream=True)
    assert set(dbt_tasks) <= downstream_of_load & upstream_of_checks


@pytest.mark.integration
def test_dbt_tasks_carry_the_warehouse_env_but_no_password(airflow_db, monkeypatch):
    _needs_dbt_project()
    monkeypatch.setenv("ERAFLOW_WAREHOUSE", "postgresql://etl:pw-s3cret@db.internal:6543/wh")
    monkeypatch.delenv("ERAFLOW_PG_PASSWORD", raising=False)
    dag = airflow_env.load_dag("era_ingest")
    dbt_task = next(t for t in dag.tasks if t.task_id.startswith("dbt."))
    assert dbt_task.env["ERAFLOW_DBT_TARGET"] == "postgres"
    assert dbt_task.env["ERAFLOW_PG_HOST"] == "db.internal"
    assert dbt_task.env["ERAFLOW_PG_PORT"] == "6543"
    assert "ERAFLOW_PG_PASSWORD" not in dbt_task.env
    assert "pw-s3cret" not in json.dumps(dbt_task.env)
    assert dag.max_active_tasks > 1  # PostgreSQL takes concurrent writers


@pytest.mark.integration
@pytest.mark.parametrize("value, schedule", [("0 6 * * *", "0 6 * * *"), ("none", None)])
def test_schedule_comes_from_the_environment(airflow_db, monkeypatch, value, schedule):
    _needs_dbt_project()
    monkeypatch.setenv("ERAFLOW_SCHEDULE", value)
    dag = airflow_env.load_dag("era_ingest")
    assert dag.schedule == schedule


@pytest.mark.integration
def test_dag_module_keeps_heavy_imports_out_of_parsing(airflow_db):
    _needs_dbt_project()
    code = (
        "import sys\n"
        "from etl import airflow_env\n"
        "airflow_env.load_dag('era_ingest')\n"
        "heavy = [m for m in ('pandas', 'dbt', 'great_expectations', 'duckdb', 'psycopg2',"
        " 'paramiko', 'asyncssh') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    heavy = next(line for line in proc.stdout.splitlines() if line.startswith("HEAVY="))
    assert heavy == "HEAVY=", heavy


# -- end to end ------------------------------------------------------------------------


@dataclass
class Totals:
    remittances: int = 0
    claims: int = 0
    service_lines: int = 0
    paid: Decimal = Decimal("0")
    sequestration: Decimal = Decimal("0")


def _segments(text: str) -> list[list[str]]:
    """Split 835 text into segments of elements, delimiters read from the ISA."""
    body = text.lstrip("\ufeff \r\n")
    if body.startswith("ISA") and len(body) > 105 and body[105] in "\r\n":
        separator, segments = body[3], body.splitlines()  # newline as terminator
    else:
        flat = body.replace("\r", "").replace("\n", "")  # some senders wrap at 80 columns
        if flat.startswith("ISA"):
            separator, terminator = flat[3], flat[105]
        else:  # a bare ST..SE file
            separator, terminator = "*", "~"
        segments = flat.split(terminator)
    return [s.strip().split(separator) for s in segments if s.strip()]


def naive_totals(paths: list[Path]) -> Totals:
    """Σ CLP04, Σ CO-253 (claim and line CAS), counts; identical files counted once."""
    totals, seen = Totals(), set()
    for path in paths:
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        in_835 = False
        for seg in _segments(data.decode("latin-1")):
            sid = seg[0]
            if sid == "ST":
                in_835 = seg[1] == "835"
                totals.remittances += in_835
            elif not in_835:
                continue
            elif sid == "CLP":
                totals.claims += 1
                totals.paid += Decimal(seg[4])
            elif sid == "SVC":
                totals.service_lines += 1
            elif sid == "CAS" and seg[1] == "CO":
                for k in range(2, len(seg) - 1, 3):
                    if seg[k] == "253" and seg[k + 1]:
                        totals.sequestration += Decimal(seg[k + 1])
    return totals


def mart_totals(wh: Warehouse) -> Totals:
    (claims, paid, seq), = wh.query(
        "select count(*), coalesce(sum(paid_amount), 0), coalesce(sum(sequestration_amount), 0)"
        " from marts.fct_claims")
    (remits,), = wh.query("select count(*) from marts.fct_remittances")
    (lines,), = wh.query("select count(*) from marts.fct_service_lines")
    return Totals(remittances=int(remits), claims=int(claims), service_lines=int(lines),
                  paid=Decimal(paid), sequestration=Decimal(seq))


def _pipeline_ready() -> None:
    _needs_dbt_project()
    if not (DBT_PROJECT / "models" / "marts").is_dir() or not any(
            (DBT_PROJECT / "models" / "marts").glob("fct_claims.sql")):
        pytest.skip("the dbt marts are not written yet")
    for module in ("loader", "checks", "pipeline"):
        if not (REPO / "etl" / f"{module}.py").exists():
            pytest.skip(f"etl/{module}.py is not written yet")


@pytest.mark.slow
@pytest.mark.integration
def test_dag_runs_end_to_end_and_is_idempotent(airflow_db, sftp_conn: SftpFixture, duckdb_wh,
                                               sample_files, tmp_path, monkeypatch):
    _pipeline_ready()
    monkeypatch.setenv("ERAFLOW_WAREHOUSE", str(duckdb_wh.path))
    monkeypatch.setenv("ERAFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ERAFLOW_TASK_RETRIES", "0")  # fail now rather than retry in 5 min
    monkeypatch.delenv("ERAFLOW_SCHEDULE", raising=False)
    sftp_conn.put(*sample_files)
    expected = naive_totals(sample_files)
    assert expected.claims > 0

    dag = airflow_env.load_dag("era_ingest")
    first = airflow_env.run_dag(dag)
    states = airflow_env.task_states(first)
    assert str(first.state) == "success", {t: s for t, s in states.items() if s != "success"}

    # every sample file was fetched, loaded and archived on the server
    (loaded, rejected), = duckdb_wh.query(
        "select count(*) filter (where status = 'loaded'), "
        "count(*) filter (where status = 'rejected') from raw.file_manifest")
    distinct = len({hashlib.sha256(p.read_bytes()).hexdigest() for p in sample_files})
    assert (loaded, rejected) == (distinct, 0)
    (uris,), = duckdb_wh.query(
        "select count(*) from raw.file_manifest where source_uri like 'sftp://127.0.0.1:%/inbox/%'"
        f" and run_id = '{first.run_id}'")
    assert uris == distinct
    assert sftp_conn.inbox_files() == []
    assert sftp_conn.archived_files() == sorted(p.name for p in sample_files)

    # the marts agree with the naive reading of the files, to the cent
    got = mart_totals(duckdb_wh)
    assert got == expected

    # the expectation suites ran for this run and recorded their results
    (checks, failed), = duckdb_wh.query(
        "select count(*), count(*) filter (where not success) from dq.check_results "
        f"where run_id = '{first.run_id}'")
    assert checks > 0 and failed == 0

    # second run: nothing new except a re-delivery of a file already loaded
    sftp_conn.put(sample_files[0], names=[f"redelivered-{sample_files[0].name}"])
    second = airflow_env.run_dag(dag)
    states = airflow_env.task_states(second)
    assert second.run_id != first.run_id
    assert str(second.state) == "success", {t: s for t, s in states.items() if s != "success"}
    (after,), = duckdb_wh.query("select count(*) from raw.file_manifest")
    assert after == distinct  # the re-delivered bytes were skipped, not loaded twice
    assert mart_totals(duckdb_wh) == expected
    assert sftp_conn.inbox_files() == []
    assert f"redelivered-{sample_files[0].name}" in sftp_conn.archived_files()
    assert not any((tmp_path / "data" / "landing").glob("*/*"))  # landing copies cleaned up


def test_naive_reader_on_a_tiny_file(tmp_path: Path):
    """The test's own 835 reader, so a wrong expectation cannot hide a wrong mart."""
    isa = ("ISA*00*          *00*          *ZZ*PAYER          *ZZ*PROVIDER       *240101*1200*^*"
           "00501*000000001*0*P*:~")
    assert len(isa) == 106
    body = (isa + "GS*HP*P*R*20240101*1200*1*X*005010X221A1~ST*835*0001~BPR*I*90*C*ACH~"
            "CLP*A*1*100*90**MB~CAS*CO*45*8*1*253*2~SVC*HC:99213*100*90~CAS*CO*253*1.5~"
            "CLP*B*22*-50*-40**MB~SE*8*0001~GE*1*1~IEA*1*000000001~")
    wrapped = "\n".join(body[i:i + 80] for i in range(0, len(body), 80))
    for n, text in enumerate((body, wrapped)):
        (tmp_path / f"{n}.835").write_text(text)
    (tmp_path / "copy.835").write_text(body)  # same bytes as 0.835: counted once

    totals = naive_totals(sorted(tmp_path.glob("*.835")))

    # 0.835 and its wrapped twin are different bytes, so both count
    assert totals == Totals(remittances=2, claims=4, service_lines=2,
                            paid=Decimal("100"), sequestration=Decimal("7.0"))
