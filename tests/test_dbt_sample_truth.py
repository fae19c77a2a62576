"""The marts agree with sample_data/TRUTH.json, on DuckDB and PostgreSQL.

The bundled 835 files go through the real loader (etl.loader.ingest_paths) and
`dbt build`; every count and sum the generator tallied from its own claim objects
must come out of the marts to the cent, and so must the denial review queue and the
reversal pairs.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from etl.transform import run_dbt
from etl.warehouse import Warehouse
from test_dbt_build import fresh_pg_wh, warehouse  # noqa: F401  (fixtures: a new DB per test)

REPO = Path(__file__).resolve().parents[1]
TRUTH = REPO / "sample_data" / "TRUTH.json"

loader = pytest.importorskip("etl.loader")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(not TRUTH.exists(), reason="sample_data/TRUTH.json missing"),
]


def test_marts_match_the_generator_truth(warehouse: Warehouse, sample_files: list[Path],
                                        tmp_path: Path) -> None:
    """``warehouse``: a new DuckDB file, then a new PostgreSQL database."""
    truth = json.loads(TRUTH.read_text())
    totals = {k: Decimal(v) if isinstance(v, str) else v for k, v in truth["totals"].items()}
    report = loader.ingest_paths(sample_files, warehouse,
                                 quarantine_dir=tmp_path / "quarantine", run_id="truth",
                                 move_rejected=False)
    assert not report.rejected

    result = run_dbt(warehouse, command="build", quiet=True)
    assert result.success, result.failures
    assert not result.warnings, result.warnings  # the samples balance to the cent

    def one(sql: str) -> tuple:
        (row,) = warehouse.query(sql)
        return tuple(row)

    assert one("select count(*), sum(charge_amount), sum(paid_amount),"
               " sum(patient_responsibility_amount), sum(sequestration_amount)"
               " from marts.fct_claims") == (
        totals["claim_count"], totals["sum_clp03"], totals["sum_clp04"], totals["sum_clp05"],
        totals["sum_co253"])
    assert one("select sum(sequestration_amount) from marts.fct_claims"
               " where not is_reversal") == (totals["sum_co253_excluding_reversals"],)
    assert one("select count(*), coalesce(sum(charge_amount), 0), coalesce(sum(paid_amount), 0)"
               " from marts.fct_service_lines") == (
        totals["service_line_count"], totals["sum_svc02"], totals["sum_svc03"])
    assert one("select count(*), sum(amount) from marts.fct_adjustments") == (
        totals["cas_triplet_count"], totals["sum_cas"])
    assert one("select count(*), sum(amount) from marts.fct_provider_adjustments") == (
        totals["plb_pair_count"], totals["sum_plb"])
    assert one("select count(*), sum(payment_amount) from marts.fct_remittances") == (
        totals["transaction_count"], totals["sum_bpr02"])
    assert one("select count(*) from marts.fct_remittances"
               " where transaction_balance_difference <> 0") == (0,)
    assert one("select count(*) from marts.fct_adjustments"
               " where adjustment_category = 'unknown'") == (0,)
    # Every Medicare FFS CO-253 is within a cent of the rate for its date of service.
    assert one("select count(*) from marts.fct_service_lines"
               " where not is_sequestration_within_tolerance") == (0,)
    assert one("select count(*) from marts.fct_claims"
               " where sequestration_exception_count > 0") == (0,)

    names = dict(warehouse.query("select file_id, file_name from raw.file_manifest"))

    def key(file_id: str, transaction_seq: int, claim_seq: int) -> tuple:
        return names[file_id], transaction_seq, claim_seq

    queue = {
        key(f, t, c): (pcn, icn, codes.split(","), seq, stake)
        for f, t, c, pcn, icn, codes, seq, stake in warehouse.query(
            "select c.file_id, c.transaction_seq, c.claim_seq, q.patient_control_number,"
            " q.payer_claim_control_number, q.denial_reason_codes, q.sequestration_amount,"
            " q.amount_at_stake from marts.rpt_denial_review_queue q"
            " join marts.fct_claims c on c.claim_id = q.claim_id")
    }
    assert queue == {
        (x["file_name"], x["transaction_seq"], x["claim_seq"]): (
            x["clp01"], x["clp07"], x["denial_codes"], Decimal(x["sequestration_amount"]),
            Decimal(x["denied_amount"]))
        for x in truth["review_queue"]
    }

    pairs = {
        (key(*row[:3]), key(*row[3:]))
        for row in warehouse.query(
            "select r.file_id, r.transaction_seq, r.claim_seq,"
            " o.file_id, o.transaction_seq, o.claim_seq from marts.fct_claims r"
            " join marts.fct_claims o on o.claim_id = r.reversed_claim_id")
    }
    assert pairs == {
        tuple((p[side]["file_name"], p[side]["transaction_seq"], p[side]["claim_seq"])
              for side in ("reversal", "original"))
        for p in truth["reversal_pairs"]
    }
