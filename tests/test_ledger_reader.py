"""The posting-ledger feed (etl.ledger): the CSV contract, the raw load, rejections.

Every ledger file here is written by the test, row by row, so each expected line number
and column is visible beside the row that breaks it. Loads run on real DuckDB and real
PostgreSQL (the ``warehouse`` fixture); the SFTP path runs against the loopback server.
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from etl import ledger
from etl.ledger import (
    CODE_MAP_NAME,
    LedgerSourceError,
    code_categories,
    ingest_ledger_source,
    report_lines,
)
from etl.warehouse import Warehouse

HEADER = [c for c, _, _ in ledger.LEDGER_COLUMNS]

CODE_MAP = """local_adj_code,category,is_contractual,is_denial_writeoff,description
INS_PMT,payment,false,false,Insurance payment
SEQ_WO,sequestration,true,false,Sequestration write-off
CONTRACTUAL,contractual/fee-schedule,yes,no,Contractual
DENIAL_WO,Denial-Timely-Filing,0,1,Denial written off
XFER_PT,transfer,false,false,To the patient
"""


def row(**values: str) -> dict[str, str]:
    """A valid payer PAYMENT row; keyword arguments change it."""
    base = {
        "ledger_txn_id": "T1", "source_system": "pm_test", "posted_date": "2024-03-05",
        "deposit_date": "2024-03-04", "patient_control_number": "PCN1",
        "payer_claim_control_number": "ICN1", "payer_id": "PAYER1",
        "trace_payer_id": "1999000001", "trace_number": "EFT1", "service_line_ref": "L1",
        "procedure_code": "99214", "modifiers": "25", "service_date": "2024-02-10",
        "responsibility_seq": "P", "txn_type": "PAYMENT", "amount": "104.10",
        "local_adj_code": "INS_PMT",
    }
    base.update(values)
    return base


def csv_bytes(rows: list[dict[str, str]], header: list[str] = HEADER) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow(r)
    return buf.getvalue().encode("utf-8")


GOOD_ROWS = [
    row(),
    row(ledger_txn_id="T2", txn_type="ADJUSTMENT", amount="2.12", group_code="CO", carc="253",
        local_adj_code="SEQ_WO"),
    row(ledger_txn_id="T3", txn_type="adjustment", amount="40", group_code="co", carc="45",
        local_adj_code=""),  # CARC only, no local code; lower case is normalized
    row(ledger_txn_id="T4", txn_type="TRANSFER_TO_PATIENT", amount="26.56", group_code="PR",
        carc="2", local_adj_code="XFER_PT", modifiers="25 , 59"),
    row(ledger_txn_id="T5", responsibility_seq="pt", txn_type="PAYMENT", amount="10.00",
        trace_number="", payer_id="", trace_payer_id="", local_adj_code=""),  # the patient's
    row(ledger_txn_id="T6", txn_type="RECOUPMENT", amount="-150.00", patient_control_number="",
        payer_claim_control_number="", service_line_ref="", procedure_code="", modifiers="",
        service_date="", local_adj_code=""),
]


def folder(tmp_path: Path, files: dict[str, bytes], code_map: str | None = CODE_MAP) -> Path:
    where = tmp_path / "ledger"
    where.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (where / name).write_bytes(data)
    if code_map is not None:
        (where / CODE_MAP_NAME).write_text(code_map)
    return where


def manifest(wh: Warehouse) -> list[tuple]:
    return wh.query("select file_name, file_kind, status, row_count, error from "
                    "raw.ledger_manifest order by file_kind, file_name")


# ------------------------------------------------------------------------ the contract


@pytest.mark.unit
def test_code_map_categories_accept_both_spellings():
    categories = code_categories()
    assert categories["contractual"] == "contractual"
    assert categories["contractual_fee_schedule"] == "contractual"  # carc_categories.csv
    assert categories["patient_cost_share"] == "patient_cost_share"
    assert categories["denial_coding_modifier"] == "denial_coding_modifier"
    assert {"payment", "transfer", "reversal"} <= set(categories.values())


@pytest.mark.unit
def test_txn_types_come_from_the_seed_dbt_reads():
    kinds = ledger.txn_types()
    assert kinds["PAYMENT_REVERSAL"] == "payment"
    assert kinds["TRANSFER_TO_NEXT"] == "transfer"
    assert kinds["RECOUPMENT"] == "provider"
    assert kinds["NOTE"] == "other"


@pytest.mark.unit
def test_the_reference_example_reads_as_the_contract_says():
    example = Path(__file__).resolve().parents[2] / "shared" / "reference" / \
        "posting_ledger_example.csv"
    if not example.exists():
        pytest.skip("the shared reference example is not here")
    codes = ledger.read_code_map(
        b"local_adj_code,category,is_contractual,is_denial_writeoff,description\n"
        b"INS_PMT,payment,false,false,\nSEQ_WO,sequestration,true,false,\n"
        b"CONTRACTUAL,contractual,true,false,\nXFER_SEC,transfer,false,false,\n")
    rows = ledger.read_ledger(example.read_bytes(), example.name, codes.codes)
    assert [r["txn_type"] for r in rows] == ["PAYMENT", "ADJUSTMENT", "ADJUSTMENT",
                                             "TRANSFER_TO_NEXT"]
    assert sum((r["amount"] for r in rows), D("0")) == D("172.78")  # the line's charge
    assert all(isinstance(r["amount"], D) for r in rows)


# ---------------------------------------------------------------------------- loading


@pytest.mark.integration
def test_a_ledger_loads_typed_and_a_rerun_changes_nothing(warehouse: Warehouse, tmp_path):
    source = folder(tmp_path, {"ledger_march.csv": csv_bytes(GOOD_ROWS)})
    report = ingest_ledger_source(str(source), warehouse, tmp_path / "data", run_id="r1")
    assert report_lines(report) == ["ledger: 1 loaded (6 rows), 0 already loaded, 0 rejected"]
    assert manifest(warehouse) == [
        (CODE_MAP_NAME, "code_map", "loaded", 5, None),
        ("ledger_march.csv", "ledger", "loaded", 6, None),
    ]
    rows = warehouse.query(
        "select line_number, txn_type, amount, posted_date, group_code, carc, local_adj_code, "
        "responsibility_seq, modifiers, trace_number from raw.ledger_rows order by line_number")
    assert rows[0] == (2, "PAYMENT", D("104.10"), date(2024, 3, 5), None, None, "INS_PMT",
                       "P", "25", "EFT1")
    assert rows[2][1:7] == ("ADJUSTMENT", D("40.00"), date(2024, 3, 5), "CO", "45", None)
    assert rows[3][8] == "25:59"
    assert rows[4][7] == "PT" and rows[4][9] is None
    assert rows[5][2] == D("-150.00")
    assert all(isinstance(r[2], D) for r in rows)
    codes = warehouse.query("select local_adj_code, category, category_as_sent, is_contractual, "
                            "is_denial_writeoff from raw.ledger_codes order by line_number")
    assert codes[2] == ("CONTRACTUAL", "contractual", "contractual/fee-schedule", True, False)
    assert codes[3] == ("DENIAL_WO", "denial_timely_filing", "Denial-Timely-Filing", False, True)

    again = ingest_ledger_source(str(source), warehouse, tmp_path / "data", run_id="r2")
    assert report_lines(again) == ["ledger: 0 loaded (0 rows), 1 already loaded, 0 rejected"]
    assert warehouse.query("select count(*) from raw.ledger_rows")[0][0] == 6
    assert warehouse.query("select count(*) from raw.ledger_codes")[0][0] == 5


BROKEN = [
    # (what, rows or raw bytes, line, column, problem)
    ("missing required column", csv_bytes(GOOD_ROWS, [c for c in HEADER if c != "amount"]),
     1, "amount", "required column is missing"),
    ("bad date", csv_bytes(GOOD_ROWS[:2] + [row(ledger_txn_id="T9", posted_date="03/05/2024")]),
     4, "posted_date", "is not a date (YYYY-MM-DD)"),
    ("impossible date", csv_bytes([row(service_date="2024-02-30")]),
     2, "service_date", "is not a real calendar date"),
    ("non-numeric amount", csv_bytes(GOOD_ROWS[:3] + [row(ledger_txn_id="T9", amount="1,204.10")]),
     5, "amount", "is not a number"),
    ("a third decimal", csv_bytes([row(amount="104.105")]),
     2, "amount", "has more than two decimal places"),
    ("empty amount", csv_bytes([row(), row(ledger_txn_id="T2", amount="")]),
     3, "amount", "is empty"),
    ("unknown type", csv_bytes([row(txn_type="PAYMNT")]), 2, "txn_type", "is not one of"),
    ("unknown local code", csv_bytes([row(local_adj_code="WO_MISC")]),
     2, "local_adj_code", "is not in the code map"),
    ("CARC without group", csv_bytes([row(txn_type="ADJUSTMENT", carc="45")]),
     2, "group_code", "is empty but carc is given"),
    ("write-off with no code", csv_bytes([row(txn_type="ADJUSTMENT", local_adj_code="")]),
     2, "local_adj_code", "is empty and no carc is given"),
    ("payer row without trace", csv_bytes([row(trace_number="")]),
     2, "trace_number", "is empty on a payer's PAYMENT row"),
    ("same id twice", csv_bytes([row(), row()]), 3, "ledger_txn_id", "the same id is used twice"),
    ("field count", csv_bytes([row()]) + b"T2,pm_test,2024-03-05\n", 3, None, "3 fields"),
    ("not UTF-8", csv_bytes([row()]) + "T2,DOE \xc9MILE\n".encode("latin-1"), 3, None,
     "not UTF-8 text"),
]


@pytest.mark.integration
@pytest.mark.parametrize("what, data, line, column, problem", BROKEN,
                         ids=[b[0] for b in BROKEN])
def test_a_broken_file_is_rejected_whole_with_line_and_column(
        duckdb_wh: Warehouse, tmp_path, what, data, line, column, problem):
    source = folder(tmp_path, {"a_broken.csv": data, "b_good.csv": csv_bytes(GOOD_ROWS)})
    report = ingest_ledger_source(str(source), duckdb_wh, tmp_path / "data", run_id="r1")

    rejected = [r for r in report.results if r.status == "rejected"]
    assert [r.name for r in rejected] == ["a_broken.csv"]
    where = f"line {line}, column {column}: " if column else f"line {line}: "
    assert rejected[0].reason.startswith(f"a_broken.csv: {where}{problem}")
    # nothing of it loaded; the rest of the batch did
    loaded = duckdb_wh.query("select m.file_name, count(r.line_number) from raw.ledger_manifest m "
                             "left join raw.ledger_rows r on r.file_id = m.file_id "
                             "where m.file_kind = 'ledger' group by m.file_name order by 1")
    assert loaded == [("a_broken.csv", 0), ("b_good.csv", 6)]
    # a copy in quarantine with its reason; the user's folder is left as it was
    quarantined = sorted((tmp_path / "data" / "quarantine").iterdir())
    assert [p.name.split("_", 1)[1] for p in quarantined] == [
        "a_broken.csv", "a_broken.csv.reason.txt"]
    assert quarantined[1].read_text().strip() == rejected[0].reason
    assert (source / "a_broken.csv").exists()
    # rejected bytes are recorded once: a rerun skips them
    again = ingest_ledger_source(str(source), duckdb_wh, tmp_path / "data", run_id="r2")
    assert {r.status for r in again.results} == {"skipped"}
    assert (len(again.loaded), len(again.skipped), len(again.rejected)) == (0, 2, 0)


@pytest.mark.integration
@pytest.mark.postgres
def test_a_broken_file_is_rejected_whole_on_postgres(pg_wh: Warehouse, tmp_path):
    data = csv_bytes(GOOD_ROWS + [row(ledger_txn_id="T9", amount="abc")])
    source = folder(tmp_path, {"march.csv": data})
    report = ingest_ledger_source(str(source), pg_wh, tmp_path / "data", run_id="r1")
    assert report_lines(report) == [
        "ledger: 0 loaded (0 rows), 0 already loaded, 1 rejected",
        "  rejected march.csv: line 8, column amount: is not a number",
    ]
    assert pg_wh.query("select count(*) from raw.ledger_rows")[0][0] == 0


@pytest.mark.integration
def test_rejection_reasons_and_logs_hold_no_row_content(duckdb_wh, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "TESTPATIENT4242"
    rows = [row(patient_control_number=secret, amount="12,00")]
    source = folder(tmp_path, {"march.csv": csv_bytes(rows)})
    report = ingest_ledger_source(str(source), duckdb_wh, tmp_path / "data", run_id="r1")
    reason = report.rejected[0].reason
    assert reason == "march.csv: line 2, column amount: is not a number"
    assert secret not in caplog.text and "12,00" not in caplog.text
    assert secret not in str(duckdb_wh.query("select * from raw.ledger_manifest"))


@pytest.mark.integration
def test_a_bad_code_map_rejects_the_batch_until_it_is_fixed(duckdb_wh, tmp_path):
    bad_map = CODE_MAP.replace("SEQ_WO,sequestration", "SEQ_WO,sequestrations")
    source = folder(tmp_path, {"march.csv": csv_bytes(GOOD_ROWS)}, code_map=bad_map)
    report = ingest_ledger_source(str(source), duckdb_wh, tmp_path / "data", run_id="r1")
    assert report_lines(report) == [
        "ledger: 0 loaded (0 rows), 0 already loaded, 1 rejected",
        f"  code map {CODE_MAP_NAME}: line 3, column category: is not a known category "
        "(see docs/LEDGER.md)",
        f"  rejected march.csv: not read: the code map was rejected ({CODE_MAP_NAME}: line 3, "
        "column category: is not a known category (see docs/LEDGER.md))",
    ]
    assert ledger.has_problems(report)

    (source / CODE_MAP_NAME).write_text(CODE_MAP)  # the practice fixes its map
    fixed = ingest_ledger_source(str(source), duckdb_wh, tmp_path / "data", run_id="r2")
    assert report_lines(fixed) == ["ledger: 1 loaded (6 rows), 0 already loaded, 0 rejected"]
    assert manifest(duckdb_wh)[-1] == ("march.csv", "ledger", "loaded", 6, None)


@pytest.mark.unit
@pytest.mark.parametrize("text, problem", [
    ("local_adj_code,category,is_contractual\nA,other,true\n",
     "line 1, column is_denial_writeoff: required column is missing"),
    (CODE_MAP + "INS_PMT,payment,false,false,again\n",
     "line 7, column local_adj_code: the same code is listed twice"),
    (CODE_MAP + "ODD,other,maybe,false,\n", "line 7, column is_contractual: is not true or false"),
    (CODE_MAP + "BOTH,other,true,true,\n",
     "line 7, column is_denial_writeoff: a code cannot be both contractual and a denial"),
])
def test_code_map_problems_name_line_and_column(text, problem):
    with pytest.raises(ledger._Rejection) as info:
        ledger.read_code_map(text.encode(), CODE_MAP_NAME)
    assert info.value.reason.startswith(f"{CODE_MAP_NAME}: {problem}")


@pytest.mark.integration
def test_the_code_map_is_found_or_named(duckdb_wh, tmp_path):
    source = folder(tmp_path, {"march.csv": csv_bytes(GOOD_ROWS)}, code_map=None)
    with pytest.raises(LedgerSourceError, match="--ledger-map FILE"):
        ingest_ledger_source(str(source), duckdb_wh, tmp_path / "data")
    elsewhere = tmp_path / "codes_2024.csv"
    elsewhere.write_text(CODE_MAP)
    report = ingest_ledger_source(str(source), duckdb_wh, tmp_path / "data",
                                  ledger_map=elsewhere)
    assert report_lines(report)[0] == "ledger: 1 loaded (6 rows), 0 already loaded, 0 rejected"
    with pytest.raises(LedgerSourceError, match="does not exist"):
        ingest_ledger_source(str(tmp_path / "nowhere"), duckdb_wh, tmp_path / "data")


@pytest.mark.integration
def test_a_map_named_inside_the_folder_is_not_read_as_a_ledger(duckdb_wh, tmp_path):
    source = folder(tmp_path, {"march.csv": csv_bytes(GOOD_ROWS)}, code_map=None)
    (source / "codes.csv").write_text(CODE_MAP)
    report = ingest_ledger_source(str(source), duckdb_wh, tmp_path / "data",
                                  ledger_map=source / "codes.csv")
    assert (report.code_map.name, report.code_map.status) == ("codes.csv", "loaded")
    assert [(r.name, r.status) for r in report.results] == [("march.csv", "loaded")]


@pytest.mark.integration
def test_one_file_can_be_named(duckdb_wh, tmp_path):
    source = folder(tmp_path, {"march.csv": csv_bytes(GOOD_ROWS), "april.csv": b"junk"})
    report = ingest_ledger_source(str(source / "march.csv"), duckdb_wh, tmp_path / "data")
    assert [r.name for r in report.results] == ["march.csv"]
    assert report.code_map.name == CODE_MAP_NAME


@pytest.mark.integration
def test_ledger_files_come_from_their_sftp_folder(sftp, duckdb_wh, tmp_path):
    from sftp_server import SftpFixture

    remote = SftpFixture(sftp.server, inbox="/ledger")
    remote.put_bytes("march.csv", csv_bytes(GOOD_ROWS))
    remote.put_bytes(CODE_MAP_NAME, CODE_MAP.encode())
    remote.put_bytes("notes.txt", b"not a ledger")
    url = remote.url()

    report = ingest_ledger_source(url, duckdb_wh, tmp_path / "data", run_id="s1")
    assert report_lines(report) == ["ledger: 1 loaded (6 rows), 0 already loaded, 0 rejected"]
    # the ledger file is archived, the code map stays for the next run, other files are
    # not the ledger's business
    assert remote.inbox_files() == [CODE_MAP_NAME, "notes.txt"]
    assert remote.archived_files() == ["march.csv"]
    uri = duckdb_wh.query("select source_uri from raw.ledger_manifest where file_kind = 'ledger'")
    assert uri[0][0].startswith("sftp://127.0.0.1:") and uri[0][0].endswith("/ledger/march.csv")
    assert not any((tmp_path / "data" / "landing").glob("**/*.csv"))

    remote.put_bytes("april.csv", csv_bytes([row(ledger_txn_id="A1", amount="abc")]))
    second = ingest_ledger_source(url, duckdb_wh, tmp_path / "data", run_id="s2")
    assert second.code_map.status == "skipped"  # the same map as before
    assert [(r.name, r.status) for r in second.results] == [("april.csv", "rejected")]
    assert remote.archived_files() == ["april.csv", "march.csv"]
    assert list((tmp_path / "data" / "quarantine").glob("*april.csv"))


@pytest.mark.integration
def test_on_sftp_a_bad_code_map_leaves_the_ledger_files_for_a_corrected_one(
        sftp, duckdb_wh, tmp_path):
    """Archived files are never fetched again, so files rejected only because the map
    was wrong stay in the folder until the practice sends a map that reads."""
    from sftp_server import SftpFixture

    remote = SftpFixture(sftp.server, inbox="/ledger")
    remote.put_bytes("march.csv", csv_bytes(GOOD_ROWS))
    remote.put_bytes(CODE_MAP_NAME, CODE_MAP.replace("SEQ_WO,sequestration",
                                                     "SEQ_WO,sequestrations").encode())
    url = remote.url()

    first = ingest_ledger_source(url, duckdb_wh, tmp_path / "data", run_id="m1")
    assert [(r.name, r.status) for r in first.results] == [("march.csv", "rejected")]
    assert remote.inbox_files() == [CODE_MAP_NAME, "march.csv"]
    assert remote.archived_files() == []
    again = ingest_ledger_source(url, duckdb_wh, tmp_path / "data", run_id="m2")
    assert [(r.name, r.status) for r in again.results] == [("march.csv", "skipped")]
    assert remote.inbox_files() == [CODE_MAP_NAME, "march.csv"]

    remote.put_bytes(CODE_MAP_NAME, CODE_MAP.encode())  # the corrected map
    fixed = ingest_ledger_source(url, duckdb_wh, tmp_path / "data", run_id="m3")
    assert [(r.name, r.status) for r in fixed.results] == [("march.csv", "loaded")]
    assert remote.inbox_files() == [CODE_MAP_NAME]
    assert remote.archived_files() == ["march.csv"]
    (rows,), = duckdb_wh.query("select count(*) from raw.ledger_rows")
    assert rows == len(GOOD_ROWS)


@pytest.mark.unit
def test_ledger_settings_are_off_until_a_folder_is_named(monkeypatch):
    monkeypatch.delenv("ERAFLOW_LEDGER_SFTP_INBOX", raising=False)
    assert ledger.ledger_settings_from_env() is None
    monkeypatch.setenv("ERAFLOW_LEDGER_SFTP_INBOX", "/ledger")
    monkeypatch.setenv("ERAFLOW_SFTP_CONN_ID", "sftp_era")
    assert ledger.ledger_settings_from_env() == {
        "conn_id": "sftp_era", "inbox": "/ledger", "archive_dir": "archive",
        "pattern": "*.csv", "ledger_map": None,
    }
