"""The GX data-quality layer on hand-built marts, on real DuckDB and real PostgreSQL.

The marts are small tables written here with the column names of
docs/ARCHITECTURE.md and decimal(18,2) money. The "clean" book passes every
check; the "violations" book adds rows with known faults, and every count and
dollar amount asserted below was worked out by hand from the rows in ``_book``.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest

from etl.checks import CheckSummary, SuiteDefinitionError, load_suites, run_checks
from etl.warehouse import Warehouse

REPO = Path(__file__).resolve().parent.parent

# ------------------------------------------------------------------ the hand-built marts

CLAIMS_DDL = """
create table marts.fct_claims (
    claim_id varchar primary key,
    remittance_id varchar,
    file_id varchar,
    transaction_seq integer,
    claim_seq integer,
    patient_control_number varchar,
    claim_status_code varchar,
    charge_amount decimal(18, 2),
    paid_amount decimal(18, 2),
    patient_responsibility_amount decimal(18, 2),
    claim_filing_indicator_code varchar,
    payer_claim_control_number varchar,
    program varchar,
    is_reversal boolean,
    sequestration_amount decimal(18, 2),
    payer_id varchar,
    payer_name varchar,
    payee_id varchar,
    payment_date date,
    service_date_from date,
    service_date_to date,
    claim_balance_difference decimal(18, 2),
    is_duplicate_payment boolean{expected}
)
"""

LINES_DDL = """
create table marts.fct_service_lines (
    service_line_id varchar primary key,
    claim_id varchar,
    line_seq integer,
    charge_amount decimal(18, 2),
    paid_amount decimal(18, 2){expected}
)
"""

ADJUSTMENTS_DDL = """
create table marts.fct_adjustments (
    adjustment_id varchar primary key,
    claim_id varchar,
    service_line_id varchar,
    line_seq integer,
    adjustment_level varchar,
    group_code varchar,
    reason_code varchar,
    amount decimal(18, 2),
    quantity decimal(18, 2),
    adjustment_category varchar,
    is_denial boolean,
    cas_position integer,
    segment_pos integer,
    file_id varchar,
    payer_id varchar,
    claim_filing_indicator_code varchar,
    program varchar,
    is_reversal boolean,
    service_date date
)
"""

FILING = {"medicare_ffs": "MB", "medicare_advantage": "16", "medicaid": "MC", "commercial": "CI"}
PAYER = {"medicare_ffs": "MCR01", "medicare_advantage": "MA777", "medicaid": "MCD42",
         "commercial": "BCBS9", None: "UNK00"}


def _book(violations: bool):
    """Claims, lines and adjustments of the clean book, plus the planted faults.

    claim: (n, file, program, charge, paid, expected_sequestration)
    line: (claim n, line n, charge, paid, expected_sequestration)
    adjustment: (id, claim n, line n or None, group, reason, amount)
    """
    claims = [
        # C1 Medicare FFS Part B, sequestration on the lines; C2 Part A, at claim level.
        (1, "f1", "medicare_ffs", "150.00", "117.60", "2.39"),
        (2, "f1", "medicare_ffs", "10000.00", "7840.00", "160.00"),
        (3, "f1", "medicaid", "80.00", "60.00", None),
        (4, "f1", "medicare_advantage", "60.00", "49.00", None),
        (5, "f1", "commercial", "120.00", "0.00", None),
    ]
    lines = [
        (1, 1, "100.00", "78.40", "1.60"),  # 2% of 80.00
        (1, 2, "50.00", "39.20", "0.79"),   # CO-253 0.80 is +0.01 off: inside tolerance
        (3, 1, "80.00", "60.00", None),
        (4, 1, "60.00", "49.00", None),
        (5, 1, "120.00", "0.00", None),     # unpaid, but CO-45 is only part of the charge
    ]
    adjustments = [
        ("a01", 1, 1, "CO", "45", "20.00"),
        ("a02", 1, 1, "CO", "253", "1.60"),
        ("a03", 1, 2, "CO", "45", "10.00"),
        ("a04", 1, 2, "CO", "253", "0.80"),
        ("a05", 2, None, "CO", "45", "2000.00"),
        ("a06", 2, None, "CO", "253", "160.00"),
        ("a07", 3, 1, "CO", "45", "20.00"),
        ("a08", 4, 1, "CO", "45", "10.00"),
        ("a09", 5, 1, "CO", "45", "100.00"),
        ("a10", 5, 1, "CO", "50", "20.00"),
    ]
    if violations:
        claims += [
            (6, "f2", "medicare_ffs", "200.00", "150.00", None),
            (7, "f2", "commercial", "0.00", "0.00", None),
            (8, "f2", "commercial", "900.00", "0.00", None),
            (9, "f2", "medicare_ffs", "180.00", "177.00", "3.66"),
            (10, "f2", "medicare_ffs", "5000.00", "3920.00", "80.00"),
            (11, "f2", "medicare_ffs", "3000.00", "1960.00", "0.00"),
            (12, "f2", None, "40.00", "24.50", None),
            # Part B claim with a line and no CO-253 at all: checked on the line only
            (13, "f2", "medicare_ffs", "50.00", "49.00", "1.00"),
        ]
        lines += [
            (6, 1, "100.00", "75.00", None),
            (7, 1, "150.00", "0.00", None),    # CO-45 takes the whole charge
            (7, 2, "-150.00", "0.00", None),   # its reversal: left out
            (9, 1, "100.00", "98.00", "2.04"),  # CO-253 2.00: 0.04 short
            (9, 2, "50.00", "49.00", "1.01"),   # CO-253 1.00: -0.01, inside tolerance
            (9, 3, "30.00", "30.00", "0.61"),   # no CO-253 at all: 0.61 missing
            (13, 1, "50.00", "49.00", "1.00"),  # 1.00 missing
        ]
        adjustments += [
            ("b01", 6, 1, "PR", "253", "1.23"),   # sequestration billed to the patient
            ("b02", 6, None, "PR", "253", "2.50"),
            ("b03", 3, 1, "CO", "253", "0.80"),   # on a Medicaid claim
            ("b04", 4, 1, "CO", "253", "1.10"),   # on Medicare Advantage: contract review
            ("b05", 7, 1, "CO", "45", "150.00"),
            ("b06", 7, 2, "CO", "45", "-150.00"),
            ("b07", 8, None, "CO", "45", "900.00"),  # claim-level CO-45 = CLP03, CLP04 = 0
            ("b08", 9, 1, "CO", "253", "2.00"),
            ("b09", 9, 2, "CO", "253", "1.00"),
            ("b10", 10, None, "CO", "253", "50.00"),  # expected 80.00
            ("b11", 11, None, "CO", "253", "40.00"),  # expected 0.00 (suspension period)
            ("b12", 12, None, "CO", "253", "0.50"),  # program unknown
        ]
    return claims, lines, adjustments


def _claim_id(file_id: str, n: int) -> str:
    return f"{file_id}-1-{n}"


def build_marts(wh: Warehouse, violations: bool = False, with_expected: bool = True) -> None:
    """(Re)create marts.fct_claims, fct_service_lines, fct_adjustments; drop dq."""
    claims, lines, adjustments = _book(violations)
    file_of = {n: f for n, f, *_ in claims}
    program_of = {n: p for n, _, p, *_ in claims}
    p = "?" if wh.kind == "duckdb" else "%s"
    expected = ",\n    expected_sequestration_amount decimal(18, 2)" if with_expected else ""

    claim_rows, line_rows, adjustment_rows = [], [], []
    seq_by_claim: dict[int, D] = {}
    for aid, n, line, group, reason, amount in adjustments:
        if group == "CO" and reason == "253":
            seq_by_claim[n] = seq_by_claim.get(n, D("0")) + D(amount)
    for n, f, program, charge, paid, exp in claims:
        row = [
            _claim_id(f, n), f"{f}-1", f, 1, n, f"PCN{n:03}", "1", D(charge), D(paid), D("0"),
            FILING.get(program, "ZZ"), f"ICN{n:05}", program, D(charge) < 0,
            seq_by_claim.get(n, D("0.00")), PAYER[program], "Payer", "PRV1",
            "2024-03-15", "2024-02-01", "2024-02-01", D("0"), False,
        ]
        claim_rows.append(row + ([D(exp) if exp else None] if with_expected else []))
    for n, ln, charge, paid, exp in lines:
        cid = _claim_id(file_of[n], n)
        row = [f"{cid}-{ln}", cid, ln, D(charge), D(paid)]
        line_rows.append(row + ([D(exp) if exp else None] if with_expected else []))
    for pos, (aid, n, line, group, reason, amount) in enumerate(adjustments, start=1):
        cid = _claim_id(file_of[n], n)
        program = program_of[n]
        adjustment_rows.append([
            aid, cid, f"{cid}-{line}" if line else None, line, "line" if line else "claim",
            group, reason, D(amount), None, "other", reason == "50", 1, pos, file_of[n],
            PAYER[program], FILING.get(program, "ZZ"), program, D(amount) < 0, "2024-02-01",
        ])

    with wh.connect() as con:
        cur = con.cursor()
        for schema in ("dq", "marts"):
            cur.execute(f"drop schema if exists {schema} cascade")
        cur.execute("create schema marts")
        cur.execute(CLAIMS_DDL.format(expected=expected))
        cur.execute(LINES_DDL.format(expected=expected))
        cur.execute(ADJUSTMENTS_DDL)
        for table, rows in (
            ("fct_claims", claim_rows), ("fct_service_lines", line_rows),
            ("fct_adjustments", adjustment_rows),
        ):
            marks = ", ".join([p] * len(rows[0]))
            cur.executemany(f"insert into marts.{table} values ({marks})", rows)
        con.commit()


# ------------------------------------------------------------------ what must be found

ALL_CHECKS = {
    "carc_253_only_in_group_co", "co253_only_on_medicare",
    "co253_medicare_advantage_contract_review", "co253_matches_rate_on_service_lines",
    "co253_matches_rate_on_claims", "co45_not_whole_charge_on_unpaid_line",
    "co45_not_whole_charge_on_unpaid_claim",
}

# check: (status, element_count, unexpected_count, unexpected_amount)
CLEAN = {
    "carc_253_only_in_group_co": ("passed", 3, 0, D("0.00")),
    "co253_only_on_medicare": ("passed", 3, 0, D("0.00")),
    "co253_medicare_advantage_contract_review": ("passed", 3, 0, D("0.00")),
    "co253_matches_rate_on_service_lines": ("passed", 2, 0, D("0.00")),
    "co253_matches_rate_on_claims": ("passed", 1, 0, D("0.00")),
    "co45_not_whole_charge_on_unpaid_line": ("passed", 1, 0, D("0.00")),
    "co45_not_whole_charge_on_unpaid_claim": ("passed", 0, 0, D("0.00")),
}

VIOLATIONS = {
    # 12 rows with CARC 253; b01 + b02 are PR: 1.23 + 2.50
    "carc_253_only_in_group_co": ("failed", 12, 2, D("3.73")),
    # 10 CO-253 rows; b03 Medicaid 0.80 + b12 unknown program 0.50
    "co253_only_on_medicare": ("failed", 10, 2, D("1.30")),
    # b04 on Medicare Advantage, 1.10: a warning
    "co253_medicare_advantage_contract_review": ("warning", 10, 1, D("1.10")),
    # FFS lines with an expected amount: 1-1, 1-2, 9-1, 9-2, 9-3, 13-1;
    # gaps 0.04 + 0.61 + 1.00
    "co253_matches_rate_on_service_lines": ("failed", 6, 3, D("1.65")),
    # FFS claims assessed at claim level (claim-level CO-253 or no lines): 2, 10, 11;
    # gaps 30.00 + 40.00. Claim 13 has a line: not here.
    "co253_matches_rate_on_claims": ("failed", 3, 2, D("70.00")),
    # unpaid lines with a positive charge and CO-45: 5-1 and 7-1; 7-1 is whole
    "co45_not_whole_charge_on_unpaid_line": ("failed", 2, 1, D("150.00")),
    "co45_not_whole_charge_on_unpaid_claim": ("failed", 1, 1, D("900.00")),
}

# (check, claim_id, service_line_id, payer_id, file_id, amount_at_stake)
VIOLATION_FINDINGS = {
    ("carc_253_only_in_group_co", "f2-1-6", "f2-1-6-1", "MCR01", "f2", D("1.23")),
    ("carc_253_only_in_group_co", "f2-1-6", None, "MCR01", "f2", D("2.50")),
    ("co253_only_on_medicare", "f1-1-3", "f1-1-3-1", "MCD42", "f1", D("0.80")),
    ("co253_only_on_medicare", "f2-1-12", None, "UNK00", "f2", D("0.50")),
    ("co253_medicare_advantage_contract_review", "f1-1-4", "f1-1-4-1", "MA777", "f1", D("1.10")),
    ("co253_matches_rate_on_service_lines", "f2-1-9", "f2-1-9-1", "MCR01", "f2", D("0.04")),
    ("co253_matches_rate_on_service_lines", "f2-1-9", "f2-1-9-3", "MCR01", "f2", D("0.61")),
    ("co253_matches_rate_on_service_lines", "f2-1-13", "f2-1-13-1", "MCR01", "f2", D("1.00")),
    ("co253_matches_rate_on_claims", "f2-1-10", None, "MCR01", "f2", D("30.00")),
    ("co253_matches_rate_on_claims", "f2-1-11", None, "MCR01", "f2", D("40.00")),
    ("co45_not_whole_charge_on_unpaid_line", "f2-1-7", "f2-1-7-1", "BCBS9", "f2", D("150.00")),
    ("co45_not_whole_charge_on_unpaid_claim", "f2-1-8", None, "BCBS9", "f2", D("900.00")),
}


def _by_name(summary: CheckSummary) -> dict:
    return {
        r.expectation_name: (r.status, r.element_count, r.unexpected_count, r.unexpected_amount)
        for r in summary.results
    }


def _findings(summary: CheckSummary) -> set:
    return {
        (f.expectation_name, f.claim_id, f.service_line_id, f.payer_id, f.file_id,
         f.amount_at_stake)
        for f in summary.findings
    }


def _dq_findings(wh: Warehouse, run_id: str) -> set:
    rows = wh.query(
        "select expectation_name, claim_id, service_line_id, payer_id, file_id, amount_at_stake "
        f"from dq.findings where run_id = '{run_id}'"
    )
    return {tuple(r) for r in rows}


def _dq_results(wh: Warehouse, run_id: str) -> dict:
    rows = wh.query(
        "select expectation_name, status, element_count, unexpected_count, unexpected_amount "
        f"from dq.check_results where run_id = '{run_id}' and status <> 'skipped'"
    )
    return {name: (status, n, u, amount) for name, status, n, u, amount in rows}


def _mart_fingerprint(wh: Warehouse) -> list:
    return [
        wh.query(f"select count(*), sum(charge_amount), sum(paid_amount) from marts.{t}")[0]
        for t in ("fct_claims", "fct_service_lines")
    ] + [wh.query("select count(*), sum(amount) from marts.fct_adjustments")[0]]


# The row conditions of a check, counted by hand on the 22 adjustments of the
# violations book: (clause, rows it selects)
CONDITIONS = [
    (["reason_code", "==", "253"], 12),
    (["group_code", "!=", "CO"], 2),                     # b01, b02
    (["reason_code", "in", ["45", "50"]], 10),           # nine CO-45 and a10
    (["reason_code", "not in", ["45", "50", "253"]], 0),
    (["amount", "<", 0], 1),                             # b06
    (["amount", "<=", 1.0], 5),                          # a04, b03, b06, b09, b12
    (["amount", ">=", 900], 2),                          # a05, b07
    (["service_line_id", "is null"], 7),                 # claim level
    (["program", "is null"], 1),                         # b12
]


def _condition_suite(directory: Path) -> Path:
    """A suite whose every check counts the rows its condition selects."""
    checks = [
        {
            "name": f"where_{i}",
            "description": f"rows where {clause}",
            "dataset": "adjustments",
            "where": [clause],
            "type": "expect_column_values_to_be_null",  # never true here: counts the rows
            "kwargs": {"column": "adjustment_id"},
            "amount_at_stake": "amount",
        }
        for i, (clause, _) in enumerate(CONDITIONS)
    ]
    suite = {
        "suite_name": "conditions",
        "datasets": {"adjustments": {
            "table": "marts.fct_adjustments", "key": "adjustment_id",
            "columns": ["adjustment_id", "group_code", "reason_code", "amount",
                        "service_line_id", "program"],
        }},
        "checks": checks,
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "conditions.json").write_text(json.dumps(suite))
    return directory


def _assert_conditions(summary: CheckSummary) -> None:
    counts = {r.expectation_name: (r.element_count, r.unexpected_count) for r in summary.results}
    assert counts == {f"where_{i}": (n, n) for i, (_, n) in enumerate(CONDITIONS)}
    by_name = {r.expectation_name: r for r in summary.results}
    assert by_name["where_4"].unexpected_amount == D("-150.00")
    assert by_name["where_6"].unexpected_amount == D("2900.00")


# ------------------------------------------------------------------------------ fixtures
# ``warehouse`` (DuckDB, then PostgreSQL), ``duckdb_wh`` and ``pg_wh`` come from
# conftest.py; the PostgreSQL database is made once per session and dropped after.


def _pg_connections(wh: Warehouse) -> int:
    import psycopg2

    admin = psycopg2.connect(host=wh.host, port=wh.port, user=wh.user, dbname="postgres")
    try:
        cur = admin.cursor()
        cur.execute("select count(*) from pg_stat_activity where datname = %s", (wh.dbname,))
        return cur.fetchone()[0]
    finally:
        admin.close()


# ----------------------------------------------------------------------- suite files


@pytest.mark.unit
def test_importing_the_module_stays_cheap():
    """The DAG imports etl.checks at parse time: GX and pandas must wait for a run."""
    code = (
        "import sys, etl.checks; "
        "print('great_expectations' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True)
    assert out.stdout.split() == ["False", "False"] and out.stderr == ""


# The suites these hand-built marts serve; the ledger and integrity suites have their own tests.
ERA_SUITES = ["era_sequestration", "era_writeoffs"]


@pytest.mark.unit
def test_suite_files_define_the_checks_with_severities():
    assert {"era_sequestration", "era_writeoffs"} <= {s.name for s in load_suites()}
    suites = {s.name: s for s in load_suites(names=["era_sequestration", "era_writeoffs"])}
    checks = {c.name: c for s in suites.values() for c in s.checks}
    assert set(checks) == ALL_CHECKS
    assert checks["co253_medicare_advantage_contract_review"].severity == "warning"
    assert {c.severity for n, c in checks.items()
            if n != "co253_medicare_advantage_contract_review"} == {"error"}
    assert checks["carc_253_only_in_group_co"].title == "No CARC 253 outside group CO"

    # the biller's README explains every check by name
    readme = (REPO / "expectations" / "README.md").read_text()
    for name in ALL_CHECKS:
        assert f"`{name}`" in readme, name


@pytest.mark.unit
def test_table_dataset_becomes_one_portable_select():
    suite = load_suites(names=["era_sequestration"])[0]
    sql = suite.datasets["carc_253_adjustments"].sql
    assert sql.startswith("select\n    adjustment_id,")
    assert "coalesce(group_code, '(missing)') as group_code" in sql
    assert sql.endswith("from marts.fct_adjustments\nwhere reason_code = '253'")


@pytest.mark.unit
def test_unknown_suite_name_is_refused():
    with pytest.raises(SuiteDefinitionError, match="unknown suite.*era_nothing"):
        load_suites(names=["era_nothing"])


@pytest.mark.unit
@pytest.mark.parametrize(
    "change, message",
    [
        ({"severity": "fatal"}, "severity must be one of"),
        ({"dataset": "nowhere"}, "dataset 'nowhere' is not defined"),
        ({"where": [["group_code", "like", "C%"]]}, "operator 'like'"),
        ({"description": ""}, "description for a biller is required"),
        ({"kwargs": {"column": "group_code", "value_set": ["CO"], "row_condition": "x"}},
         "kwargs may not set"),
    ],
)
def test_bad_suite_definitions_name_file_and_check(tmp_path: Path, change: dict, message: str):
    raw = json.loads((REPO / "expectations" / "era_sequestration.json").read_text())
    raw["checks"][0].update(change)
    (tmp_path / "era_sequestration.json").write_text(json.dumps(raw))
    with pytest.raises(SuiteDefinitionError, match=message) as info:
        load_suites(tmp_path)
    assert str(info.value).startswith("era_sequestration.json: ")


@pytest.mark.integration
def test_unknown_expectation_type_is_refused_before_anything_is_written(tmp_path, duckdb_wh):
    build_marts(duckdb_wh)
    raw = json.loads((REPO / "expectations" / "era_writeoffs.json").read_text())
    raw["checks"][0]["type"] = "expect_column_values_to_be_lovely"
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "era_writeoffs.json").write_text(json.dumps(raw))
    with pytest.raises(SuiteDefinitionError, match="unknown expectation"):
        run_checks(duckdb_wh, run_id="r-bad", suites_dir=tmp_path / "suites",
                   docs_dir=tmp_path / "docs")
    schemas = {r[0] for r in duckdb_wh.query("select schema_name from information_schema.schemata")}
    assert "dq" not in schemas
    assert not (tmp_path / "docs").exists()


# ------------------------------------------------- DuckDB and PostgreSQL, the same results


@pytest.mark.integration
def test_clean_marts_pass_everything(warehouse: Warehouse):
    build_marts(warehouse)
    summary = run_checks(warehouse, run_id="r-clean", suites=ERA_SUITES)

    assert _by_name(summary) == CLEAN
    assert (summary.passed, summary.failed, summary.warnings) == (7, 0, 0)
    assert summary.success and summary.skipped == [] and summary.findings == []
    assert summary.docs_path is None
    assert all(r.success is True for r in summary.results)
    assert _dq_results(warehouse, "r-clean") == CLEAN
    assert warehouse.query("select count(*) from dq.findings")[0][0] == 0


@pytest.mark.integration
def test_planted_violations_are_found(warehouse: Warehouse, tmp_path: Path):
    build_marts(warehouse, violations=True)
    before = _mart_fingerprint(warehouse)
    summary = run_checks(warehouse, run_id="r-bad", docs_dir=tmp_path / "docs",
                         suites=ERA_SUITES)

    assert _by_name(summary) == VIOLATIONS
    assert (summary.passed, summary.failed, summary.warnings) == (0, 6, 1)
    assert not summary.success
    assert _findings(summary) == VIOLATION_FINDINGS
    assert all(isinstance(r.unexpected_amount, D) for r in summary.results)
    assert summary.docs_path.is_file()

    # the same, as stored in dq
    assert _dq_results(warehouse, "r-bad") == VIOLATIONS
    assert _dq_findings(warehouse, "r-bad") == VIOLATION_FINDINGS
    observed = dict(warehouse.query(
        "select record_id, observed_value from dq.findings "
        "where expectation_name = 'co253_only_on_medicare'"
    ))
    assert observed == {"b03": "program=medicaid", "b12": "program=(missing)"}
    observed = warehouse.query(
        "select observed_value from dq.findings "
        "where expectation_name = 'co45_not_whole_charge_on_unpaid_line'"
    )
    assert observed == [("charge_amount=150.00; co45_amount=150.00",)]

    # failing checks leave the marts exactly as they were
    assert _mart_fingerprint(warehouse) == before


@pytest.mark.integration
def test_rerunning_a_run_id_replaces_its_rows(warehouse: Warehouse):
    build_marts(warehouse, violations=True)
    run_checks(warehouse, run_id="r-1", suites=ERA_SUITES)
    run_checks(warehouse, run_id="r-1", suites=ERA_SUITES)
    count = "select count(*) from dq.{} where run_id = '{}'"
    assert warehouse.query(count.format("check_results", "r-1"))[0][0] == 7
    assert warehouse.query(count.format("findings", "r-1"))[0][0] == 12

    # another run keeps the first; a one-suite rerun replaces only that suite's rows
    run_checks(warehouse, run_id="r-2", suites=ERA_SUITES)
    assert warehouse.query("select count(*) from dq.check_results")[0][0] == 14
    summary = run_checks(warehouse, run_id="r-1", suites="era_writeoffs")
    assert [r.expectation_name for r in summary.results] == [
        "co45_not_whole_charge_on_unpaid_line", "co45_not_whole_charge_on_unpaid_claim",
    ]
    assert warehouse.query(count.format("check_results", "r-1"))[0][0] == 7
    assert warehouse.query(count.format("findings", "r-1"))[0][0] == 12
    total = warehouse.query(
        "select sum(unexpected_amount) from dq.check_results where run_id = 'r-1'"
    )[0][0]
    assert total == D("1127.78")  # 3.73 + 1.30 + 1.10 + 1.65 + 70.00 + 150.00 + 900.00


@pytest.mark.integration
def test_rate_checks_are_skipped_until_dbt_publishes_expected_amounts(warehouse: Warehouse):
    build_marts(warehouse, violations=True, with_expected=False)
    summary = run_checks(warehouse, run_id="r-noexp", suites=ERA_SUITES)

    assert {s.expectation_name for s in summary.skipped} == {
        "co253_matches_rate_on_service_lines", "co253_matches_rate_on_claims",
    }
    assert "marts.fct_service_lines.expected_sequestration_amount" in summary.skipped[0].reason
    ran = {k: v for k, v in VIOLATIONS.items() if "matches_rate" not in k}
    assert _by_name(summary) == ran
    assert (summary.passed, summary.failed, summary.warnings) == (0, 4, 1)
    rows = warehouse.query(
        "select expectation_name, success, status from dq.check_results "
        "where run_id = 'r-noexp' and status = 'skipped'"
    )
    assert sorted(rows) == [
        ("co253_matches_rate_on_claims", None, "skipped"),
        ("co253_matches_rate_on_service_lines", None, "skipped"),
    ]


@pytest.mark.integration
def test_a_missing_mart_is_reported_as_an_error_not_a_crash(warehouse: Warehouse):
    build_marts(warehouse, violations=True)
    with warehouse.connect() as con:
        con.cursor().execute("drop table marts.fct_service_lines")
        con.commit()
    summary = run_checks(warehouse, run_id="r-missing", suites=ERA_SUITES)

    by_name = {r.expectation_name: r for r in summary.results}
    broken = by_name["co45_not_whole_charge_on_unpaid_line"]
    assert (broken.status, broken.success) == ("error", False)
    assert "fct_service_lines" in broken.error
    # the claim-level rate check reads the lines too (to tell Part A claims apart)
    assert by_name["co253_matches_rate_on_claims"].status == "error"
    # the line-level rate check needs a column of the missing table: skipped
    assert [s.expectation_name for s in summary.skipped] == ["co253_matches_rate_on_service_lines"]
    # the others still ran and found what they should
    assert by_name["co45_not_whole_charge_on_unpaid_claim"].unexpected_amount == D("900.00")
    assert by_name["carc_253_only_in_group_co"].unexpected_amount == D("3.73")
    assert summary.failed == 5 and not summary.success
    status = warehouse.query(
        "select status from dq.check_results "
        "where expectation_name = 'co45_not_whole_charge_on_unpaid_line'"
    )
    assert status == [("error",)]


@pytest.mark.integration
def test_every_condition_operator_selects_the_right_rows(warehouse: Warehouse, tmp_path):
    build_marts(warehouse, violations=True)
    summary = run_checks(warehouse, run_id="r-cond", suites_dir=_condition_suite(tmp_path))
    _assert_conditions(summary)


# ------------------------------------------------------------------ engine-specific


@pytest.mark.integration
def test_data_docs_are_built_and_gx_stays_quiet(duckdb_wh, tmp_path, capfd, caplog):
    build_marts(duckdb_wh, violations=True)
    caplog.set_level(logging.DEBUG)
    docs = tmp_path / "docs"
    summary = run_checks(duckdb_wh, run_id="r-docs", docs_dir=docs, suites=ERA_SUITES)

    site = docs / "gx" / "uncommitted" / "data_docs" / "local_site"
    assert summary.docs_path == site / "index.html"
    assert summary.docs_path.is_file()
    # GX files a suite named "a.b" under validations/a/b/<run>/<time>/
    validations = site / "validations"
    pages = list(validations.rglob("*.html"))
    assert {".".join(p.relative_to(validations).parts[:2]) for p in pages} == {
        "era_sequestration.carc_253_adjustments", "era_sequestration.medicare_ffs_service_lines",
        "era_sequestration.medicare_ffs_claims", "era_writeoffs.service_lines_with_co45",
        "era_writeoffs.claims_with_claim_level_co45",
    }
    page = next(p for p in pages if "carc_253_adjustments" in str(p)).read_text()
    assert "No CARC 253 outside group CO" in page

    # nothing on the terminal (no progress bars), no GX log records; our logger speaks
    assert capfd.readouterr() == ("", "")
    assert not [r for r in caplog.records if "great_expectations" in r.name]
    assert any(r.name == "etl.checks" and "r-docs" in r.getMessage() for r in caplog.records)

    # a second run in the same project adds to the docs instead of failing, and stays
    # quiet too (GX logs its datasource stash on a logger named by file path)
    caplog.clear()
    again = run_checks(duckdb_wh, run_id="r-docs-2", docs_dir=docs, suites=ERA_SUITES)
    assert _by_name(again) == VIOLATIONS
    assert capfd.readouterr() == ("", "")
    assert not [r for r in caplog.records if "great_expectations" in r.name]


@pytest.mark.integration
def test_checks_run_while_dbt_holds_the_duckdb_file_open(duckdb_wh):
    """dbt run in-process (dbtRunner) keeps a read-write connection to the file; a
    read-only one in the same process would be refused."""
    build_marts(duckdb_wh, violations=True)
    import duckdb

    held = duckdb.connect(str(duckdb_wh.path))
    try:
        summary = run_checks(duckdb_wh, run_id="r-held", suites=ERA_SUITES)
    finally:
        held.close()
    assert _by_name(summary) == VIOLATIONS


@pytest.mark.integration
@pytest.mark.postgres
def test_postgres_url_is_never_written_and_connections_are_closed(pg_wh, tmp_path):
    build_marts(pg_wh, violations=True)
    docs = tmp_path / "docs"
    summary = run_checks(pg_wh, run_id="pg-docs", docs_dir=docs, suites=ERA_SUITES)
    assert _by_name(summary) == VIOLATIONS and summary.docs_path.is_file()

    # the GX project keeps the URL as a ${...} reference only, nowhere in clear
    config = (docs / "gx" / "great_expectations.yml").read_text()
    assert "${ERAFLOW_GX_PG_URL}" in config
    written = [p for p in docs.rglob("*") if p.is_file() and "postgresql" in p.read_text(
        errors="ignore")]
    assert written == []
    # GX's connection pools are closed when the run ends (a DAG worker runs many)
    assert _pg_connections(pg_wh) == 0


@pytest.mark.integration
def test_a_run_scoped_to_its_files_checks_only_their_rows(warehouse: Warehouse):
    """Files f1 and f2 of the violations book were loaded by two runs: each run, scoped
    to its files, finds exactly the violations of its own file, and together they find
    what one unscoped run finds. A run that loaded nothing finds nothing."""
    build_marts(warehouse, violations=True)
    with warehouse.connect() as con:
        cur = con.cursor()
        cur.execute("create schema if not exists raw")
        cur.execute("drop table if exists raw.file_manifest")
        cur.execute("create table raw.file_manifest (file_id varchar, run_id varchar, "
                    "status varchar)")
        cur.execute("insert into raw.file_manifest values ('f1', 'load-1', 'loaded'), "
                    "('f2', 'load-2', 'loaded'), ('f3', 'load-1', 'rejected')")
        con.commit()

    first = run_checks(warehouse, run_id="r-1", suites=ERA_SUITES, files_of_run="load-1")
    second = run_checks(warehouse, run_id="r-2", suites=ERA_SUITES, files_of_run="load-2")
    mine = {f for f in VIOLATION_FINDINGS if f[4] == "f1"}
    assert len(mine) == 2  # b03 (Medicaid CO-253) and b04 (Medicare Advantage) are f1's
    assert _findings(first) == mine
    assert _findings(second) == VIOLATION_FINDINGS - mine
    assert _dq_findings(warehouse, "r-1") == mine
    # each scoped run counts only its own rows: of the 10 CO-253 rows, f1's claims hold
    # a02, a04, a06, b03 and b04; f2's hold b08 to b12
    counts = [{r.expectation_name: r.element_count for r in s.results} for s in (first, second)]
    assert [c["co253_only_on_medicare"] for c in counts] == [5, 5]

    idle = run_checks(warehouse, run_id="r-3", suites=ERA_SUITES, files_of_run="no-such-run")
    assert idle.findings == [] and idle.results == [] and idle.success
    assert sorted(s.expectation_name for s in idle.skipped) == sorted(ALL_CHECKS)
    assert {s.reason for s in idle.skipped} == {
        "run no-such-run loaded no new 835 file (check every row: --check-all)"}
