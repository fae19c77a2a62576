"""The ledger generator (etl.ledger_generator): it keeps the 835 generator's bytes, is
deterministic, writes ledgers that pass the reader's contract, and its clean ledger adds
up to the 835s (cash per trace = BPR02) by a reading of its own CSV.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from etl import ledger, ledger_generator as lg
from etl.generator import SAMPLE_FILES, SAMPLE_SEED, generate_file

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]
SAMPLE_LEDGER = REPO / "sample_data" / "ledger"


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_rendering_keeps_the_generators_bytes():
    for index, options in enumerate(SAMPLE_FILES):
        file, findings = lg.render_era(SAMPLE_SEED, index, dict(options))
        assert file.content == generate_file(SAMPLE_SEED, index=index, **options).content
        assert findings == []
        assert sum(len(t.claims) for t in file.transactions) == options["claims"]


def test_the_bundled_ledger_is_what_the_generator_writes(tmp_path: Path):
    lg.write_sample_ledger(tmp_path, REPO / "sample_data" / "era")
    for name in ("posting_ledger.csv", ledger.CODE_MAP_NAME, "PLANTED.json"):
        assert (tmp_path / name).read_bytes() == (SAMPLE_LEDGER / name).read_bytes(), (
            f"sample_data/ledger/{name} is stale: run python -m etl.ledger_generator --samples")


def test_the_bundled_ledger_readme_names_every_planted_check():
    import json

    truth = json.loads((SAMPLE_LEDGER / "PLANTED.json").read_text())
    readme = (SAMPLE_LEDGER / "README.md").read_text()
    for check in {f["check"] for f in truth["findings"]}:
        assert f"`{check}`" in readme, check


def test_the_same_seed_writes_the_same_set(tmp_path: Path):
    lg.write_test_set(tmp_path / "a")
    lg.write_test_set(tmp_path / "b")
    for path in sorted((tmp_path / "a").rglob("*")):
        if path.is_file():
            twin = tmp_path / "b" / path.relative_to(tmp_path / "a")
            assert path.read_bytes() == twin.read_bytes(), path.name


def test_generated_ledgers_pass_the_readers_contract(tmp_path: Path):
    planted = lg.write_test_set(tmp_path)
    codes = ledger.read_code_map((tmp_path / "ledger" / ledger.CODE_MAP_NAME).read_bytes())
    for name in planted.ledger_files:
        data = (tmp_path / "ledger" / name).read_bytes()
        assert ledger.read_ledger(data, name, codes.codes)


def test_a_clean_ledger_adds_up_to_the_835s(tmp_path: Path):
    """By the ledger's own columns: per trace, payments plus PLB rows are BPR02, and per
    claim, payments are CLP04; write-offs and transfers never exceed the CAS."""
    result = lg.write_test_set(tmp_path, planted=False)
    rows = read_csv(tmp_path / "ledger" / "posting_ledger.csv")
    cash: dict[str, D] = defaultdict(D)
    paid: dict[tuple[str, str], D] = defaultdict(D)  # by trace and CLP01
    for r in rows:
        if r["responsibility_seq"] == "PT":
            continue
        kind = ledger.posting_kind(r["txn_type"])
        if kind in ("payment", "provider"):
            cash[r["trace_number"]] += D(r["amount"])
        if kind == "payment":
            paid[(r["trace_number"], r["patient_control_number"])] += D(r["amount"])
    for file in result.era_files:
        for txn in file.transactions:
            assert cash[txn.trace] == txn.bpr02, (file.name, txn.transaction_seq)
            era: dict[tuple[str, str], D] = defaultdict(D)
            for claim in txn.claims:
                era[(txn.trace, claim.patient_control_number)] += claim.paid
            for key, amount in era.items():
                assert paid.get(key, D("0")) == amount, key
    assert result.findings == []


def test_a_planted_set_records_every_finding_where_it_belongs(tmp_path: Path):
    result = lg.write_test_set(tmp_path)
    by_check = defaultdict(list)
    for f in result.findings:
        by_check[f.check].append(f)
        assert f.amount > 0, f
        assert f.suite in lg.ERA_SUITES | {lg.LEDGER_SUITE}
    # remittance-level findings name a payment, ledger-row findings a ledger line
    assert all(f.claim_seq is None and f.transaction_seq for f in by_check["plb_recoupment_booked"])
    assert all(f.ledger_line for f in by_check["ledger_posting_not_duplicated"])
    resent = {f.era_file for f in by_check["payment_not_sent_twice"]}
    assert resent == {"era_mcrb_0005_resent.835"}
    # the re-export repeats rows with their ids: they count once, not as duplicates
    reexport = read_csv(tmp_path / "ledger" / "posting_ledger_reexport.csv")
    first = {r["ledger_txn_id"]: r for r in read_csv(tmp_path / "ledger" / "posting_ledger.csv")}
    assert reexport and all(first[r["ledger_txn_id"]] == r for r in reexport)


def test_a_plan_the_claims_cannot_take_says_so():
    file, _ = lg.render_era(7, 0, {"payer": "comm", "claims": 3,
                                   "payment_date": date(2024, 1, 2)})
    book = lg.Ledger([file], 7)
    with pytest.raises(lg.PlantError, match="reversal_not_posted: 0 eligible"):
        book.plant_reversal_not_posted(1)
    with pytest.raises(lg.PlantError, match="more_coming_pending"):
        book.plant_more_coming_written_off()
