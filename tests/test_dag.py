"""The era_ingest DAG: integrity, and real runs with ``dag.test()``.

The end-to-end test serves the bundled sample files from the loopback SFTP
server, runs the whole DAG (SFTP fetch, load, dbt through cosmos, expectation
suites, summary) into a temp DuckDB file and compares the marts with totals
worked out here by a deliberately naive reading of the 835 text with
``Decimal``: no code of the pipeline is used to compute the expected figures.
The bundled posting ledger is served from its own SFTP folder beside the inbox;
its findings per check are held against ``sample_data/ledger/PLANTED.json`` and
the severities of ``expectations/ledger_reconciliation.json``, read here.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
import os
import shutil
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
SAMPLE_LEDGER = REPO / "sample_data" / "ledger"
LEDGER_SUITE = REPO / "expectations" / "ledger_reconciliation.json"
LEDGER_FILE = "posting_ledger.csv"
CODE_MAP = "local_codes.csv"

pytestmark = pytest.mark.airflow


def _needs_dbt_project() -> None:
    if not (DBT_PROJECT / "dbt_project.yml").exists():
        pytest.skip("dbt_project/ is not written yet")


@pytest.fixture
def dag(airflow_db, monkeypatch: pytest.MonkeyPatch):
    """era_ingest as the dag-processor sees it, with no ERAFLOW_* overrides."""
    _needs_dbt_project()
    for name in ("ERAFLOW_SCHEDULE", "ERAFLOW_TASK_RETRIES", "ERAFLOW_WAREHOUSE",
                 "ERAFLOW_DBT_TEST_BEHAVIOR", "ERAFLOW_DBT_INVOCATION"):
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
    assert len([t for t in dag.task_dict if t.startswith("dbt.") and t.endswith("test")]) == 1
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
    assert dag.get_task("load_ledger_files").upstream_task_ids == set()
    loads = {"load_files", "load_ledger_files"}
    roots = [t for t in dbt_tasks if not dag.get_task(t).upstream_task_ids - loads]
    leaves = dag.get_task("run_checks").upstream_task_ids
    assert roots and all(dag.get_task(t).upstream_task_ids == loads for t in roots)
    assert leaves and leaves <= set(dbt_tasks)
    summarize = dag.get_task("summarize")
    assert summarize.upstream_task_ids == {"load_files", "run_checks"}
    assert summarize.trigger_rule == "all_done_min_one_success"  # also after failed checks
    # ... and since the run's state is that of its last tasks, one more task fails it
    watcher = dag.get_task("fail_run_if_a_task_failed")
    assert watcher.upstream_task_ids == loads | {"run_checks", "summarize"}
    assert watcher.trigger_rule == "one_failed" and not watcher.downstream_task_ids
    # every dbt task sits between each load and run_checks
    upstream_of_checks = dag.get_task("run_checks").get_flat_relative_ids(upstream=True)
    for load in loads:
        downstream_of_load = dag.get_task(load).get_flat_relative_ids(upstream=False)
        assert set(dbt_tasks) <= downstream_of_load & upstream_of_checks, load


@pytest.mark.integration
def test_dbt_tests_run_after_the_models_they_read(airflow_db, monkeypatch):
    """Either test behaviour: no dbt test task can run before a model it selects from."""
    _needs_dbt_project()
    for behaviour in ("after_all", "after_each"):
        monkeypatch.setenv("ERAFLOW_DBT_TEST_BEHAVIOR", behaviour)
        dag = airflow_env.load_dag("era_ingest")
        runs = {t for t in dag.task_dict if t.startswith("dbt.") and not t.endswith("test")}
        tests = [t for t in dag.task_dict if t.startswith("dbt.") and t.endswith("test")]
        assert tests, behaviour
        for task_id in tests:
            upstream = dag.get_task(task_id).get_flat_relative_ids(upstream=True)
            if behaviour == "after_all":
                assert runs <= upstream, task_id
            elif "relationships_" in task_id:  # reads a second model: `..._ref_<model>_`
                other = task_id.rsplit("__ref_", 1)[1].removesuffix("__test")
                assert any(t.startswith(f"dbt.{other}") for t in upstream), task_id


@pytest.mark.integration
def test_dbt_tasks_carry_the_warehouse_env_but_no_password(airflow_db, monkeypatch):
    _needs_dbt_project()
    monkeypatch.setenv("ERAFLOW_WAREHOUSE", "postgresql://etl:pw-s3cret@db.internal:6543/wh")
    monkeypatch.setenv("ERAFLOW_PG_PASSWORD", "")  # parsing sets it; undone after the test
    dag = airflow_env.load_dag("era_ingest")
    dbt_task = next(t for t in dag.tasks if t.task_id.startswith("dbt."))
    assert dbt_task.env["ERAFLOW_DBT_TARGET"] == "postgres"
    assert dbt_task.env["ERAFLOW_PG_HOST"] == "db.internal"
    assert dbt_task.env["ERAFLOW_PG_PORT"] == "6543"
    assert "ERAFLOW_PG_PASSWORD" not in dbt_task.env
    assert "pw-s3cret" not in json.dumps(dbt_task.env)
    assert dag.max_active_tasks > 1  # PostgreSQL takes concurrent writers
    assert os.environ["ERAFLOW_PG_PASSWORD"] == "pw-s3cret"  # inherited by the dbt process


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


# -- the posting ledger: served, and what PLANTED.json says it must produce ----------------


def serve_ledger(sftp: SftpFixture, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The bundled ledger and its code map in the server's ``/ledger``, beside the inbox,
    and the DAG's ledger settings pointed at it (same connection as the 835s)."""
    folder = sftp.server.root / "ledger"
    folder.mkdir()
    for name in (LEDGER_FILE, CODE_MAP):
        shutil.copyfile(SAMPLE_LEDGER / name, folder / name)
    monkeypatch.setenv("ERAFLOW_LEDGER_SFTP_INBOX", "/ledger")
    for name in ("ERAFLOW_LEDGER_SFTP_CONN_ID", "ERAFLOW_LEDGER_SFTP_ARCHIVE",
                 "ERAFLOW_LEDGER_SFTP_PATTERN", "ERAFLOW_LEDGER_MAP"):
        monkeypatch.delenv(name, raising=False)
    return folder


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def ledger_data_lines(path: Path) -> int:
    """Data records of a ledger CSV, read with nothing but the csv module."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        records = [r for r in csv.reader(f) if any(v.strip() for v in r)]
    return len(records) - 1  # the header


def planted_per_check() -> dict[str, tuple[int, Decimal]]:
    """check -> (rows, dollars) as ``PLANTED.json`` lists them."""
    truth = json.loads((SAMPLE_LEDGER / "PLANTED.json").read_text())
    rows: Counter = Counter()
    dollars: dict[str, Decimal] = {}
    for f in truth["findings"]:
        assert f["suite"] == "ledger_reconciliation"
        rows[f["check"]] += 1
        dollars[f["check"]] = dollars.get(f["check"], Decimal("0")) + Decimal(f["amount"])
    return {c: (rows[c], dollars[c]) for c in rows}


def planted_error_checks() -> set[str]:
    """The planted checks that fail a run (severity error in the suite file)."""
    suite = json.loads(LEDGER_SUITE.read_text())
    severity = {c["name"]: c["severity"] for c in suite["checks"]}
    return {c for c in planted_per_check() if severity[c] == "error"}


def ledger_findings_per_check(wh: Warehouse, run_id: str) -> dict[str, tuple[int, Decimal]]:
    rows = wh.query("select expectation_name, count(*), sum(amount_at_stake) from dq.findings "
                    f"where run_id = '{run_id}' and suite_name = 'ledger_reconciliation' "
                    "group by expectation_name")
    return {name: (int(n), Decimal(total)) for name, n, total in rows}


def failed_checks(wh: Warehouse, run_id: str) -> set[str]:
    rows = wh.query("select suite_name || '.' || expectation_name from dq.check_results "
                    f"where run_id = '{run_id}' and status in ('failed', 'error')")
    return {r[0] for r in rows}


def assert_failed_only_on_the_planted_findings(wh: Warehouse, dag_run) -> None:
    """The planted mispostings fail run_checks and so the run; nothing else may fail, the
    summary still runs, and every check finds what was planted for it, to the cent."""
    states = airflow_env.task_states(dag_run)
    assert str(dag_run.state) == "failed"
    assert {t: s for t, s in states.items() if s != "success"} == {
        "run_checks": "failed", "fail_run_if_a_task_failed": "failed"}
    assert ledger_findings_per_check(wh, dag_run.run_id) == planted_per_check()
    assert failed_checks(wh, dag_run.run_id) == {
        f"ledger_reconciliation.{c}" for c in planted_error_checks()}


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
    # dbt inside the task process, as `make demo` runs it: about twice as fast as a dbt
    # subprocess per task. test_dag_loads_into_postgres runs the subprocess default.
    monkeypatch.setenv("ERAFLOW_DBT_INVOCATION", "dbt_runner")
    for name in ("ERAFLOW_SCHEDULE", "ERAFLOW_DBT_TEST_BEHAVIOR"):
        monkeypatch.delenv(name, raising=False)
    sftp_conn.put(*sample_files)
    ledger_folder = serve_ledger(sftp_conn, monkeypatch)
    expected = naive_totals(sample_files)
    assert expected.claims > 0

    dag = airflow_env.load_dag("era_ingest")
    first = airflow_env.run_dag(dag)
    assert_failed_only_on_the_planted_findings(duckdb_wh, first)

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

    # the ledger file landed raw once, from its own folder, and was archived there; the
    # code map stays on the server, to be read again next run
    lines = ledger_data_lines(SAMPLE_LEDGER / LEDGER_FILE)
    ledger_manifest = duckdb_wh.query(
        "select file_kind, file_name, status, file_id, row_count from raw.ledger_manifest")
    ledger_id = hashlib.sha256((SAMPLE_LEDGER / LEDGER_FILE).read_bytes()).hexdigest()
    code_map_id = hashlib.sha256((SAMPLE_LEDGER / CODE_MAP).read_bytes()).hexdigest()
    assert {r[:4] for r in ledger_manifest} == {
        ("code_map", CODE_MAP, "loaded", code_map_id), ("ledger", LEDGER_FILE, "loaded", ledger_id)}
    assert [r[4] for r in ledger_manifest if r[0] == "ledger"] == [lines]
    (ledger_rows, from_sftp), = duckdb_wh.query(
        "select count(*), count(*) filter (where m.source_uri like "
        "'sftp://127.0.0.1:%/ledger/" + LEDGER_FILE + "') "
        "from raw.ledger_rows r join raw.ledger_manifest m using (file_id)")
    assert ledger_rows == from_sftp == lines
    assert files_in(ledger_folder) == [CODE_MAP]
    assert files_in(ledger_folder / "archive") == [LEDGER_FILE]

    # the marts agree with the naive reading of the files, to the cent
    got = mart_totals(duckdb_wh)
    assert got == expected

    # second run: nothing new but a re-delivery of an 835 and of the ledger already loaded
    sftp_conn.put(sample_files[0], names=[f"redelivered-{sample_files[0].name}"])
    shutil.copyfile(SAMPLE_LEDGER / LEDGER_FILE, ledger_folder / f"redelivered-{LEDGER_FILE}")
    second = airflow_env.run_dag(dag)
    assert second.run_id != first.run_id
    assert_failed_only_on_the_planted_findings(duckdb_wh, second)  # the same, not doubled
    (after,), = duckdb_wh.query("select count(*) from raw.file_manifest")
    assert after == distinct  # the re-delivered bytes were skipped, not loaded twice
    assert mart_totals(duckdb_wh) == expected
    assert sftp_conn.inbox_files() == []
    assert f"redelivered-{sample_files[0].name}" in sftp_conn.archived_files()
    (manifest_rows, ledger_rows_after), = duckdb_wh.query(
        "select (select count(*) from raw.ledger_manifest), "
        "(select count(*) from raw.ledger_rows)")
    assert (manifest_rows, ledger_rows_after) == (2, lines)
    assert files_in(ledger_folder) == [CODE_MAP]
    assert files_in(ledger_folder / "archive") == sorted([LEDGER_FILE,
                                                          f"redelivered-{LEDGER_FILE}"])
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


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.integration
def test_dag_loads_into_postgres(airflow_db, sftp_conn: SftpFixture, pg_wh, sample_files,
                                 tmp_path, monkeypatch):
    """The production set-up (docker-compose.yml): PostgreSQL, a dbt subprocess per task."""
    _pipeline_ready()
    monkeypatch.setenv("ERAFLOW_WAREHOUSE", pg_wh.url)
    monkeypatch.setenv("ERAFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ERAFLOW_TASK_RETRIES", "0")
    for name in ("ERAFLOW_DBT_INVOCATION", "ERAFLOW_DBT_TEST_BEHAVIOR"):
        monkeypatch.delenv(name, raising=False)
    sftp_conn.put(*sample_files)
    ledger_folder = serve_ledger(sftp_conn, monkeypatch)

    dag = airflow_env.load_dag("era_ingest")
    assert dag.max_active_tasks > 1
    dag_run = airflow_env.run_dag(dag)

    assert_failed_only_on_the_planted_findings(pg_wh, dag_run)
    assert mart_totals(pg_wh) == naive_totals(sample_files)
    assert sftp_conn.inbox_files() == []
    (ledger_rows,), = pg_wh.query("select count(*) from raw.ledger_rows")
    assert ledger_rows == ledger_data_lines(SAMPLE_LEDGER / LEDGER_FILE)
    assert files_in(ledger_folder) == [CODE_MAP]
    assert files_in(ledger_folder / "archive") == [LEDGER_FILE]


@pytest.mark.slow
@pytest.mark.integration
def test_a_failed_load_archives_nothing(airflow_db, sftp_conn: SftpFixture, sample_files,
                                        tmp_path, monkeypatch):
    """The warehouse is down: the run fails and every file stays in its folder for the next."""
    _needs_dbt_project()
    monkeypatch.setenv("ERAFLOW_WAREHOUSE", "postgresql://postgres@127.0.0.1:1/nowhere")
    monkeypatch.setenv("ERAFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ERAFLOW_TASK_RETRIES", "0")
    sftp_conn.put(*sample_files[:2])
    ledger_folder = serve_ledger(sftp_conn, monkeypatch)

    dag_run = airflow_env.run_dag(airflow_env.load_dag("era_ingest"))
    states = airflow_env.task_states(dag_run)

    assert str(dag_run.state) == "failed"
    assert states["fetch_new_files"] == "success"
    assert states["load_files"] == states["load_ledger_files"] == "failed"
    assert states["run_checks"] == states["summarize"] == "upstream_failed"
    assert states["fail_run_if_a_task_failed"] == "failed"
    assert sftp_conn.inbox_files() == sorted(p.name for p in sample_files[:2])
    assert sftp_conn.archived_files() == []
    assert files_in(ledger_folder) == [CODE_MAP, LEDGER_FILE]
    assert files_in(ledger_folder / "archive") == []


# -- the local Airflow helpers ---------------------------------------------------------


@pytest.mark.unit
def test_connection_from_an_sftp_url_in_the_environment(monkeypatch, sftp_host_key):
    from sftp_server import public_key_line

    key = public_key_line(sftp_host_key)
    monkeypatch.setenv("ERAFLOW_SFTP_URL", "sftp://era:pw%21@sftp.example.org:2222/drop?"
                       f"host_key={key.replace(' ', '%20')}&archive=done")
    for name in ("AIRFLOW_CONN_SFTP_ERA", "ERAFLOW_SFTP_INBOX", "ERAFLOW_SFTP_ARCHIVE",
                 "ERAFLOW_SFTP_PATTERN", "ERAFLOW_SFTP_CONN_ID"):
        monkeypatch.delenv(name, raising=False)

    assert airflow_env.connections_from_env() == ["AIRFLOW_CONN_SFTP_ERA"]

    conn = json.loads(os.environ["AIRFLOW_CONN_SFTP_ERA"])
    assert conn == {"conn_type": "sftp", "host": "sftp.example.org", "port": 2222,
                    "login": "era", "password": "pw!", "extra": {"host_key": key}}
    from etl.sftp import settings_from_env

    settings = settings_from_env()
    assert (settings["inbox"], settings["archive_dir"]) == ("/drop", "done")


@pytest.mark.unit
def test_set_connection_and_configure_guard(monkeypatch, tmp_path):
    name = airflow_env.set_connection("wh_x", "postgres", host="h", port=5432, login="u")
    assert name == "AIRFLOW_CONN_WH_X"
    assert json.loads(os.environ[name]) == {
        "conn_type": "postgres", "host": "h", "port": 5432, "login": "u"}
    monkeypatch.delenv(name)
    import airflow  # noqa: F401  (already imported by this session)

    with pytest.raises(RuntimeError, match="before airflow is imported"):
        airflow_env.configure(tmp_path / "another-home")


@pytest.mark.unit
def test_demo_refuses_an_empty_inbox(tmp_path, capsys):
    from etl import demo

    assert demo.main(["--samples", str(tmp_path)]) == 1
    assert "no 835 files" in capsys.readouterr().err
    (tmp_path / "a.835").write_text("ISA")
    (tmp_path / "TRUTH.json").write_text("{}")
    (tmp_path / ".hidden.835").write_text("ISA")
    assert [p.name for p in demo._sample_files(tmp_path)] == ["a.835"]
