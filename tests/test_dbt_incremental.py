"""An incremental dbt run gives the numbers of a full refresh, on DuckDB and PostgreSQL.

Two loads through the real loader (etl.loader.ingest_paths), a ``dbt build`` after
each: the second is incremental and must write only what the new files bring, plus
the old rows whose values depend on the new files. Then ``--full-refresh`` rebuilds
everything from raw, and every table of ``marts`` and ``staging`` must be the same,
row for row, to the cent.

The files: the bundled samples (etl.generator.write_samples; the generator's truth
holds their totals, review queue and reversal pairs), split between the loads, and
the hand-written files of test_dbt_build, arranged so that the second load changes
history:

- era_2 (second load) reverses claim PCN4 of era_1 (first load);
- era_3 (second load) repeats era_1's first payment (same TRN03 + TRN02);
- era_5 (first load) repeats era_4's payment, but era_4 (second load) was received
  earlier, so after the second load era_5 is the repeat, not era_4;
- era_6 (second load) is a 2013 Medicare payment whose cut came as CO-223.

That history was not rebuilt is shown by marks planted by hand in old files' rows
after the first build: the incremental run keeps them (only the rows the new files
change are written again), and on PostgreSQL by the rows dbt reports inserted.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from etl import generator
from etl.transform import run_dbt
from etl.warehouse import Warehouse
from test_dbt_build import (  # noqa: F401  (fixtures: a new DB per test)
    FILE_4,
    fresh_pg_wh,
    header,
    interchange,
    transaction,
    warehouse,
)
from test_dbt_build import sample_files as hand_written_files

loader = pytest.importorskip("etl.loader")
pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The per-segment staging models: an incremental run inserts only the new files' rows.
SEGMENT_MODELS = {
    "stg_era__claims": "CLP",
    "stg_era__service_lines": "SVC",
    "stg_era__transactions": "ST",
}
TIME_0 = datetime(2024, 4, 2, 8, 0, 0)
HAND_WRITTEN = {f"era_{n}.835" for n in range(1, 7)}


def era_5() -> tuple[str, str]:
    """era_4's payment (trace CHK0004 of payer 1999999999) sent again in another file."""
    body = header("109.00", "CHK0004", "1999999999", "MA PLAN", "20240315") + FILE_4
    return "era_5.835", interchange("106", [transaction("0001", body)])


ERA_6_CLAIMS = [
    # 2013-05: the cut reported as CO-223 (2% of 80.00 = 1.60): sequestration
    "CLP*PCN61*1*100.00*78.40**MB*ICN61*11*1",
    "SVC*HC:99213*100.00*78.40**1",
    "DTM*472*20130510",
    "CAS*CO*45*20.00*1*223*1.60",
    # 2013-07: after CARC 253 replaced it, OA-223 is the generic code again
    "CLP*PCN62*1*100.00*80.00**MB*ICN62*11*1",
    "SVC*HC:99213*100.00*80.00**1",
    "DTM*472*20130708",
    "CAS*CO*45*18.37",
    "CAS*OA*223*1.63",
]


def era_6() -> tuple[str, str]:
    """A Medicare Part B payment of 2013 with CARC 223, from a payer of its own."""
    body = header("158.40", "EFT0006", "1777777777", "MEDICARE J", "20130815") + ERA_6_CLAIMS
    return "era_6.835", interchange("107", [transaction("0001", body)])


def write_files(folder: Path) -> tuple[list[Path], list[Path], generator.BatchTruth]:
    """The two loads, as paths, and the generator's truth of the samples among them."""
    samples_dir = folder / "samples"
    truth = generator.write_samples(samples_dir, truth_file=folder / "truth.json")
    samples = sorted(samples_dir.glob("*.835"))
    assert len(samples) == 7

    hand = folder / "hand"
    hand.mkdir()
    written = {}
    for name, text in [*hand_written_files(), era_5(), era_6()]:
        written[name] = hand / name
        written[name].write_text(text, encoding="ascii")

    first = [*samples[:4], written["era_1.835"], written["era_5.835"]]
    second = [*samples[4:], written["era_2.835"], written["era_3.835"],
              written["era_4.835"], written["era_6.835"]]
    return first, second, truth


def received_times(first: list[Path], second: list[Path]) -> dict[Path, datetime]:
    """Arrival times: in load order, except era_4, received before era_5."""
    times = {path: TIME_0 + timedelta(minutes=n) for n, path in enumerate(first + second)}
    era_4 = next(p for p in second if p.name == "era_4.835")
    times[era_4] = TIME_0 - timedelta(minutes=1)
    return times


def load(wh: Warehouse, paths: list[Path], times: dict[Path, datetime], tmp: Path,
         run_id: str) -> None:
    report = loader.ingest_paths(paths, wh, quarantine_dir=tmp / "quarantine",
                                 run_id=run_id, move_rejected=False, received_at=times)
    assert not report.rejected, report.rejected
    assert len(report.loaded) == len(paths)


def build(wh: Warehouse, full_refresh: bool = False) -> dict[str, dict]:
    """dbt build; returns run_results.json's entry of every model by name."""
    result = run_dbt(wh, command="build", full_refresh=full_refresh, quiet=True)
    assert result.success, result.failures
    assert result.target_path is not None
    payload = json.loads((result.target_path / "run_results.json").read_text())
    return {
        node["unique_id"].split(".")[-1]: node
        for node in payload["results"]
        if node["unique_id"].startswith("model.")
    }


def snapshot(wh: Warehouse) -> dict[str, list[tuple]]:
    """Every table of marts and staging as sorted rows (views and seeds included)."""
    tables = wh.query(
        "select table_schema, table_name from information_schema.tables"
        " where table_schema in ('marts', 'staging') order by 1, 2")
    assert tables
    out = {}
    for schema, name in tables:
        rows = wh.query(f"select * from {schema}.{name}")
        out[f"{schema}.{name}"] = sorted(rows, key=lambda row: tuple(map(repr, row)))
    return out


def file_ids(wh: Warehouse) -> dict[str, str]:
    return dict(wh.query("select file_name, file_id from raw.file_manifest"))


def count_segments(paths: list[Path], segment_id: str) -> int:
    """Segments of a kind inside 835 transactions, counted from the text without the
    loader (ISA fixes the element separator and the terminator)."""
    total = 0
    for path in paths:
        text = path.read_text(encoding="ascii")
        element, terminator = text[3], text[105]
        transaction_set = None
        for piece in text.split(terminator):
            sid, *elements = piece.strip("\r\n").split(element)
            if sid == "ST":
                transaction_set = elements[0]
            total += sid == segment_id and transaction_set == "835"
    return total


SENTINEL = "SENTINEL"


def plant_sentinels(wh: Warehouse) -> dict[str, tuple[str, str]]:
    """Mark rows of first-load files by hand: a rebuild from raw would erase the marks.

    stg_era__claims and fct_claims rows of a sample file no later file touches, and the
    fct_claims rows of era_5, which the second load makes a repeated payment: those must
    be written again (mark gone), the others kept (mark still there).
    """
    ids = file_ids(wh)
    untouched = ids[sorted(n for n in ids if n.startswith("era_mc"))[0]]
    marks = {
        "staging.stg_era__claims": ("payer_claim_control_number", untouched),
        # columns no report reads, so the marks stay in the marts they were put in
        "marts.fct_claims": ("drg_code", untouched),
        "marts.fct_adjustments": ("appealable", untouched),
    }
    saved = {}
    with wh.connect() as con:
        cur = con.cursor()
        for table, (column, file_id) in marks.items():
            cur.execute(f"create table {table}_saved as select * from {table}"
                        f" where file_id = '{file_id}'")
            cur.execute(f"update {table} set {column} = '{SENTINEL}'"
                        f" where file_id = '{file_id}'")
            saved[table] = (column, file_id)
        cur.execute(f"update marts.fct_claims set payer_name = '{SENTINEL}'"
                    f" where file_id = '{ids['era_5.835']}'")
        con.commit()
    return saved


def check_sentinels(wh: Warehouse, marks: dict[str, tuple[str, str]]) -> None:
    for table, (column, file_id) in marks.items():
        values = wh.query(f"select distinct {column} from {table}"
                          f" where file_id = '{file_id}'")
        assert values == [(SENTINEL,)], table
    names = wh.query("select distinct payer_name from marts.fct_claims"
                     f" where file_id = '{file_ids(wh)['era_5.835']}'")
    assert names == [("MA PLAN",)]


def restore_sentinels(wh: Warehouse, marks: dict[str, tuple[str, str]]) -> None:
    with wh.connect() as con:
        cur = con.cursor()
        for table, (_, file_id) in marks.items():
            cur.execute(f"delete from {table} where file_id = '{file_id}'")
            cur.execute(f"insert into {table} select * from {table}_saved")
            cur.execute(f"drop table {table}_saved")
        con.commit()


def check_cross_file_facts(wh: Warehouse) -> None:
    """The old rows the second load changed, as worked out by hand."""
    ids = file_ids(wh)

    def one(sql: str) -> tuple:
        (row,) = wh.query(sql)
        return tuple(row)

    # era_2's reversal takes back PCN4 of era_1, a file of the first load.
    original = one("select claim_id from marts.fct_claims where patient_control_number"
                   f" = 'PCN4' and file_id = '{ids['era_1.835']}'")[0]
    reversal, reversed_claim = one(
        "select claim_id, reversed_claim_id from marts.fct_claims"
        f" where is_reversal and file_id = '{ids['era_2.835']}'")
    assert reversed_claim == original
    assert one("select is_reversed, reversed_by_claim_id from marts.fct_claims"
               f" where claim_id = '{original}'") == (True, reversal)

    # era_3 repeats era_1; era_5 (first load) repeats era_4 (second load, received
    # earlier): its rows in every fact were written again with the flag set.
    duplicates = {
        name: flag for name, flag in wh.query(
            "select m.file_name, r.is_duplicate_payment from marts.fct_remittances r"
            " join raw.file_manifest m on m.file_id = r.file_id")
        if name in HAND_WRITTEN
    }
    assert duplicates == {"era_1.835": False, "era_2.835": False, "era_3.835": True,
                          "era_4.835": False, "era_5.835": True, "era_6.835": False}
    for fact in ("fct_claims", "fct_service_lines", "fct_adjustments"):
        flags = wh.query(f"select distinct is_duplicate_payment from marts.{fact}"
                         f" where file_id = '{ids['era_5.835']}'")
        assert flags == [(True,)], fact
    assert one("select count(*) from staging.int_sequestration_assessments"
               f" where file_id = '{ids['era_3.835']}' and not is_duplicate_payment") == (0,)

    # CARC 223 is the 2013 cut on Medicare FFS dates of service of April to June only:
    # May's CO-223 1.60 = 2% x (78.40 + 1.60); July's OA-223 is not, and July's
    # expected 2% x 80.00 = 1.60 is missing.
    d = Decimal
    rows = wh.query(
        "select service_month, ffs_paid_amount, sequestration_amount,"
        " expected_sequestration_amount, effective_rate, exception_count"
        " from marts.rpt_sequestration_monthly where payer_id = '1777777777'"
        " order by service_month")
    assert rows == [
        (date(2013, 5, 1), d("78.40"), d("1.60"), d("1.60"), d("0.020000"), 0),
        (date(2013, 7, 1), d("80.00"), d("0.00"), d("1.60"), d("0.000000"), 1),
    ]
    categories = dict(wh.query(
        "select group_code, adjustment_category from marts.fct_adjustments"
        f" where reason_code = '223' and file_id = '{ids['era_6.835']}'"))
    assert categories == {"CO": "sequestration", "OA": "other"}

    # The review queue holds era_4's PCN11 (the original payment), not era_5's.
    queued = wh.query("select file_id from marts.rpt_denial_review_queue"
                      " where patient_control_number = 'PCN11'")
    assert queued == [(ids["era_4.835"],)]


def check_samples_truth(wh: Warehouse, truth: generator.BatchTruth) -> None:
    """Over the sample files, the marts give the generator's totals to the cent."""
    names = [f.file_name for f in truth.files]
    ids = file_ids(wh)
    in_samples = "file_id in (" + ", ".join(f"'{ids[n]}'" for n in names) + ")"
    totals = truth.totals

    def one(sql: str) -> tuple:
        (row,) = wh.query(sql)
        return tuple(row)

    assert one("select count(*), sum(charge_amount), sum(paid_amount),"
               " sum(patient_responsibility_amount), sum(sequestration_amount)"
               f" from marts.fct_claims where {in_samples}") == (
        totals.claim_count, totals.sum_clp03, totals.sum_clp04, totals.sum_clp05,
        totals.sum_co253)
    assert one("select count(*), sum(amount) from marts.fct_adjustments"
               f" where {in_samples}") == (totals.cas_triplet_count, totals.sum_cas)
    assert one("select count(*), sum(charge_amount), sum(paid_amount)"
               f" from marts.fct_service_lines where {in_samples}") == (
        totals.service_line_count, totals.sum_svc02, totals.sum_svc03)
    assert one("select count(*), sum(payment_amount) from marts.fct_remittances"
               f" where {in_samples}") == (totals.transaction_count, totals.sum_bpr02)
    assert one("select count(*), sum(amount) from marts.fct_provider_adjustments"
               f" where {in_samples}") == (totals.plb_pair_count, totals.sum_plb)

    by_id = {v: k for k, v in ids.items()}
    queue = {
        (by_id[f], t, c): (codes.split(","), seq, stake)
        for f, t, c, codes, seq, stake in wh.query(
            "select c.file_id, c.transaction_seq, c.claim_seq, q.denial_reason_codes,"
            " q.sequestration_amount, q.amount_at_stake from marts.rpt_denial_review_queue q"
            " join marts.fct_claims c on c.claim_id = q.claim_id"
            f" where c.{in_samples}")
    }
    assert queue == {
        (x.claim.file_name, x.claim.transaction_seq, x.claim.claim_seq): (
            list(x.denial_codes), x.sequestration_amount, x.denied_amount)
        for x in truth.review_queue
    }
    assert one("select count(*) from marts.fct_claims"
               f" where reversed_claim_id is not null and {in_samples}") == (
        len(truth.reversal_pairs),)


def test_incremental_run_equals_full_refresh(warehouse: Warehouse, tmp_path: Path) -> None:
    """``warehouse``: a new DuckDB file, then a new PostgreSQL database."""
    first, second, truth = write_files(tmp_path)
    times = received_times(first, second)

    load(warehouse, first, times, tmp_path, "first")
    build(warehouse)
    marks = plant_sentinels(warehouse)

    load(warehouse, second, times, tmp_path, "second")
    models = build(warehouse)

    # History was not rebuilt: the rows planted in old files' staging and mart rows are
    # still there; the one old row whose values the new files change was written again.
    check_sentinels(warehouse, marks)
    if warehouse.kind == "postgres":
        # dbt-postgres reports the rows of the insert (dbt-duckdb reports none): the
        # staging tables got only the new files' segments, counted from the files' text.
        for model, segment_id in SEGMENT_MODELS.items():
            response = models[model]["adapter_response"]
            assert response.get("rows_affected") == count_segments(second, segment_id), (
                model, response)
    restore_sentinels(warehouse, marks)
    incremental = snapshot(warehouse)

    check_cross_file_facts(warehouse)
    check_samples_truth(warehouse, truth)

    build(warehouse, full_refresh=True)
    full = snapshot(warehouse)
    assert full.keys() == incremental.keys()
    for table in full:
        assert incremental[table] == full[table], table
