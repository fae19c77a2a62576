"""Tests of the synthetic 835 generator, checked against an independent naive reading.

The generator's truth is only worth something if it matches what the files say. So these tests
read the written bytes with a deliberately simple parser of their own (delimiters from the
ISA, split, walk), recompute every balancing equation with ``Decimal`` and every total of the
truth, and compare. The sequestration rates and the denial codes are restated here rather than
imported, so that a wrong table in the generator cannot agree with itself.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl import generator
from etl.generator import Delimiters, generate_batch, generate_file, write_samples

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_data" / "era"
SAMPLE_TRUTH = ROOT / "sample_data" / "TRUTH.json"
ZERO = Decimal(0)
CENT = Decimal("0.01")

# Restated from docs (DOMAIN.md section 5), not imported from the generator.
RATE_STARTS = (
    (date(2022, 7, 1), Decimal("0.02")),
    (date(2022, 4, 1), Decimal("0.01")),
    (date(2020, 5, 1), Decimal(0)),
    (date(2013, 4, 1), Decimal("0.02")),
)
DENIAL_CODES = {"CO-4", "CO-16", "CO-18", "CO-27", "CO-29", "CO-50", "CO-97", "CO-151", "CO-197"}
ROUTINE_CODES = {"CO-45", "CO-253", "PR-1", "PR-2", "PR-3"}
MEDICARE_FFS = {"MA", "MB"}


def rate_for(day: date) -> Decimal:
    for start, rate in RATE_STARTS:
        if day >= start:
            return rate
    return ZERO


# --------------------------------------------------------------------------------------------
# A naive reader
# --------------------------------------------------------------------------------------------


@dataclass
class Line:
    procedure: list[str]
    charge: Decimal
    paid: Decimal
    units: str
    adjustments: list[tuple[str, str, Decimal, str]] = field(default_factory=list)
    service_date: date | None = None
    allowed: Decimal | None = None
    control_number: str = ""


@dataclass
class ClaimText:
    elements: list[str]
    adjustments: list[tuple[str, str, Decimal, str]] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    dates: dict[str, date] = field(default_factory=dict)
    original_reference: str = ""
    patient: list[str] = field(default_factory=list)
    cas_segments: list[list[str]] = field(default_factory=list)

    @property
    def clp01(self) -> str:
        return self.elements[1]

    @property
    def status(self) -> str:
        return self.elements[2]

    @property
    def charge(self) -> Decimal:
        return Decimal(self.elements[3])

    @property
    def paid(self) -> Decimal:
        return Decimal(self.elements[4])

    @property
    def patient_responsibility(self) -> Decimal:
        return Decimal(self.elements[5] or "0")

    @property
    def filing_indicator(self) -> str:
        return self.elements[6]

    @property
    def clp07(self) -> str:
        return self.elements[7]

    def all_adjustments(self) -> list[tuple[str, str, Decimal, str]]:
        return self.adjustments + [a for line in self.lines for a in line.adjustments]


@dataclass
class Transaction:
    st02: str
    bpr: list[str] = field(default_factory=list)
    trn: list[str] = field(default_factory=list)
    payer: list[str] = field(default_factory=list)
    payee: list[str] = field(default_factory=list)
    claims: list[ClaimText] = field(default_factory=list)
    plb: list[tuple[str, str, Decimal]] = field(default_factory=list)
    segments: int = 0
    se: list[str] = field(default_factory=list)


@dataclass
class Interchange:
    isa: list[str]
    isa_length: int
    gs: list[str] = field(default_factory=list)
    transactions: list[Transaction] = field(default_factory=list)
    ge: list[str] = field(default_factory=list)
    iea: list[str] = field(default_factory=list)


@dataclass
class ParsedFile:
    name: str
    size: int
    element: str
    component: str
    repetition: str
    terminator: str
    interchanges: list[Interchange]
    segment_count: int

    def transactions(self) -> list[Transaction]:
        return [t for i in self.interchanges for t in i.transactions]

    def claims(self) -> list[tuple[int, int, ClaimText]]:
        """(transaction_seq, claim_seq, claim) for every claim of the file."""
        out = []
        for t_seq, transaction in enumerate(self.transactions(), start=1):
            for c_seq, claim in enumerate(transaction.claims, start=1):
                out.append((t_seq, c_seq, claim))
        return out


MONEY = re.compile(r"-?\d+(\.\d{1,2})?")


def _money(text: str) -> Decimal:
    """An X12 decimal as the generator must write it: no exponent, at most two decimals."""
    assert MONEY.fullmatch(text), text
    return Decimal(text)


def _day(text: str) -> date:
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def _triplets(elements: list[str]) -> list[tuple[str, str, Decimal, str]]:
    out = []
    group = elements[1]
    for i in range(2, len(elements), 3):
        reason = elements[i]
        if not reason:
            continue
        quantity = elements[i + 2] if i + 2 < len(elements) else ""
        out.append((group, reason, _money(elements[i + 1]), quantity))
    return out


def naive_parse(data: bytes, name: str = "file") -> ParsedFile:
    """Read delimiters from the ISA, split, and walk the segments; nothing else assumed."""
    text = data.decode("ascii")
    assert text.startswith("ISA")
    element, repetition, component, terminator = text[3], text[82], text[104], text[105]
    raw = text.split(terminator)
    assert raw[-1].strip("\r\n") == "", "the file must end with a terminator"
    segments = [s.lstrip("\r\n") for s in raw[:-1]]

    interchanges: list[Interchange] = []
    transaction: Transaction | None = None
    claim: ClaimText | None = None
    line: Line | None = None
    for segment in segments:
        e = segment.split(element)
        sid = e[0]
        if transaction is not None:
            transaction.segments += 1
        if sid == "ISA":
            assert (segment[3], segment[82], segment[104]) == (element, repetition, component)
            interchanges.append(Interchange(e, len(segment) + 1))
        elif sid == "GS":
            interchanges[-1].gs = e
        elif sid == "ST":
            transaction = Transaction(e[2], segments=1)
            interchanges[-1].transactions.append(transaction)
            claim = line = None
        elif sid == "SE":
            assert transaction is not None
            transaction.se = e
            transaction = None
        elif sid == "GE":
            interchanges[-1].ge = e
        elif sid == "IEA":
            interchanges[-1].iea = e
        elif transaction is None:
            raise AssertionError(f"{sid} outside a transaction")
        elif sid == "BPR":
            _money(e[2])
            transaction.bpr = e
        elif sid == "TRN":
            transaction.trn = e
        elif sid == "N1" and e[1] == "PR":
            transaction.payer = e
        elif sid == "N1" and e[1] == "PE":
            transaction.payee = e
        elif sid == "CLP":
            for money in e[3:6]:
                _money(money or "0")
            claim = ClaimText(e)
            transaction.claims.append(claim)
            line = None
        elif sid == "SVC":
            assert claim is not None
            line = Line(
                e[1].split(component), _money(e[2]), _money(e[3]), e[5] if len(e) > 5 else ""
            )
            claim.lines.append(line)
        elif sid == "CAS":
            assert claim is not None
            (line.adjustments if line else claim.adjustments).extend(_triplets(e))
            claim.cas_segments.append(e)
        elif sid == "DTM" and e[1] == "472":
            assert line is not None
            line.service_date = _day(e[2])
        elif sid == "DTM" and claim is not None and line is None:
            claim.dates[e[1]] = _day(e[2])
        elif sid == "AMT" and e[1] == "B6":
            assert line is not None
            line.allowed = _money(e[2])
        elif sid == "REF" and e[1] == "6R":
            assert line is not None
            line.control_number = e[2]
        elif sid == "REF" and e[1] == "F8":
            assert claim is not None
            claim.original_reference = e[2]
        elif sid == "NM1" and e[1] == "QC":
            assert claim is not None
            claim.patient = e
        elif sid == "PLB":
            for i in range(3, len(e), 2):
                reason, _, reference = e[i].partition(component)
                transaction.plb.append((reason, reference, _money(e[i + 1])))
    return ParsedFile(
        name, len(data), element, component, repetition, terminator, interchanges, len(segments)
    )


# --------------------------------------------------------------------------------------------
# Independent checks and totals
# --------------------------------------------------------------------------------------------


def check_envelopes(parsed: ParsedFile) -> None:
    for interchange in parsed.interchanges:
        assert interchange.isa_length == 106
        assert len(interchange.isa) == 17
        assert interchange.iea[2] == interchange.isa[13]
        assert interchange.iea[1] == "1"  # one group per interchange
        assert interchange.ge[2] == interchange.gs[6]
        assert int(interchange.ge[1]) == len(interchange.transactions)
        assert interchange.gs[8] == "005010X221A1"
        for transaction in interchange.transactions:
            assert transaction.se[2] == transaction.st02
            assert int(transaction.se[1]) == transaction.segments


def check_balances(parsed: ParsedFile) -> None:
    for transaction in parsed.transactions():
        for claim in transaction.claims:
            for line in claim.lines:
                assert line.charge - sum(a[2] for a in line.adjustments) == line.paid
            all_cas = sum((a[2] for a in claim.all_adjustments()), ZERO)
            assert claim.charge - all_cas == claim.paid, claim.clp01
            pr = sum((a[2] for a in claim.all_adjustments() if a[0] == "PR"), ZERO)
            assert claim.patient_responsibility == pr, claim.clp01
        bpr02 = Decimal(transaction.bpr[2])
        paid = sum((c.paid for c in transaction.claims), ZERO)
        assert paid - sum((p[2] for p in transaction.plb), ZERO) == bpr02
        assert bpr02 >= 0


def naive_classify(claim: ClaimText) -> tuple[str, tuple[str, ...]] | None:
    """("review", denial codes), ("safe", ()) or None, from the text alone."""
    if claim.status == "22":
        return None
    codes = [f"{a[0]}-{a[1]}" for a in claim.all_adjustments()]
    if "CO-253" not in codes:
        return None
    denials = tuple(sorted({c for c in codes if c in DENIAL_CODES}))
    if denials:
        return ("review", denials)
    if all(c in ROUTINE_CODES for c in codes):
        return ("safe", ())
    return None


def naive_totals(files: list[ParsedFile]) -> dict[str, object]:
    t: Counter[str] = Counter()
    sums = {
        k: ZERO
        for k in (
            "sum_clp03",
            "sum_clp04",
            "sum_clp05",
            "sum_svc02",
            "sum_svc03",
            "sum_cas",
            "sum_co253",
            "sum_co253_excluding_reversals",
            "sum_bpr02",
            "sum_plb",
        )
    }
    for parsed in files:
        t["file_count"] += 1
        t["byte_count"] += parsed.size
        t["segment_count"] += parsed.segment_count
        t["interchange_count"] += len(parsed.interchanges)
        t["group_count"] += sum(1 for i in parsed.interchanges if i.gs)
        for transaction in parsed.transactions():
            t["transaction_count"] += 1
            t["plb_pair_count"] += len(transaction.plb)
            sums["sum_bpr02"] += Decimal(transaction.bpr[2])
            sums["sum_plb"] += sum((p[2] for p in transaction.plb), ZERO)
            for claim in transaction.claims:
                t["claim_count"] += 1
                t["service_line_count"] += len(claim.lines)
                t["reversal_count"] += claim.status == "22"
                sums["sum_clp03"] += claim.charge
                sums["sum_clp04"] += claim.paid
                sums["sum_clp05"] += claim.patient_responsibility
                for line in claim.lines:
                    sums["sum_svc02"] += line.charge
                    sums["sum_svc03"] += line.paid
                for group, reason, amount, _ in claim.all_adjustments():
                    t["cas_triplet_count"] += 1
                    sums["sum_cas"] += amount
                    if (group, reason) == ("CO", "253"):
                        sums["sum_co253"] += amount
                        if claim.status != "22":
                            sums["sum_co253_excluding_reversals"] += amount
                kind = naive_classify(claim)
                if kind:
                    t["review_queue_count" if kind[0] == "review" else "safe_to_close_count"] += 1
    out: dict[str, object] = dict(t)
    out.update({k: str(v) for k, v in sums.items()})
    return out


def assert_truth_matches(files: list[ParsedFile], truth: dict[str, object]) -> None:
    """Compare the generator's totals, lists and pairs with the naive reading."""
    expected = naive_totals(files)
    totals = truth["totals"]
    assert isinstance(totals, dict)
    for key, value in totals.items():
        if key.startswith("sum_"):
            assert Decimal(value) == Decimal(str(expected[key])), key
        else:
            assert value == expected.get(key, 0), key

    if "review_queue" not in truth:
        return
    review, safe = set(), set()
    for parsed in files:
        for t_seq, c_seq, claim in parsed.claims():
            kind = naive_classify(claim)
            key = (parsed.name, t_seq, c_seq, claim.clp01, claim.clp07)
            if kind and kind[0] == "review":
                review.add((*key, kind[1]))
            elif kind:
                safe.add(key)
    truth_review = {
        (
            r["file_name"],
            r["transaction_seq"],
            r["claim_seq"],
            r["clp01"],
            r["clp07"],
            tuple(r["denial_codes"]),
        )
        for r in truth["review_queue"]  # type: ignore[union-attr]
    }
    truth_safe = {
        (r["file_name"], r["transaction_seq"], r["claim_seq"], r["clp01"], r["clp07"])
        for r in truth["safe_to_close"]  # type: ignore[union-attr]
    }
    assert truth_review == review
    assert truth_safe == safe
    check_reversal_pairs(files, truth["reversal_pairs"])  # type: ignore[arg-type]


def check_reversal_pairs(files: list[ParsedFile], pairs: list[dict]) -> None:
    """Every CLP02 22 negates an earlier claim of its file and is followed by its correction;
    and the truth lists exactly those pairs."""
    found = set()
    for parsed in files:
        claims = parsed.claims()
        for position, (t_seq, c_seq, claim) in enumerate(claims):
            if claim.status != "22":
                continue
            originals = [
                (ot, oc, o)
                for ot, oc, o in claims[:position]
                if o.clp01 == claim.clp01 and o.clp07 == claim.clp07 and o.status != "22"
            ]
            assert len(originals) == 1, claim.clp01
            ot, oc, original = originals[0]
            assert ot < t_seq
            assert claim.charge == -original.charge and claim.paid == -original.paid
            assert claim.patient_responsibility == -original.patient_responsibility
            negated = [(g, r, -a, q) for g, r, a, q in original.all_adjustments()]
            assert claim.all_adjustments() == negated
            assert [line.procedure for line in claim.lines] == [
                line.procedure for line in original.lines
            ]
            ct, cc, correction = claims[position + 1]
            assert correction.clp01 == claim.clp01 and correction.status == "1"
            assert correction.original_reference == claim.clp07 != correction.clp07
            found.add(((parsed.name, ot, oc), (parsed.name, t_seq, c_seq), (parsed.name, ct, cc)))
    listed = {
        tuple(
            (p[k]["file_name"], p[k]["transaction_seq"], p[k]["claim_seq"])
            for k in ("original", "reversal", "correction")
        )
        for p in pairs
    }
    assert listed == found


def check_sequestration(parsed: ParsedFile) -> None:
    """CO-253 = round(rate × (paid + CO-253), 2) at the rate of the date of service; only on
    Medicare FFS (always when the rate and payment are positive) and Medicare Advantage."""
    for _, _, claim in parsed.claims():
        sign = -1 if claim.status == "22" else 1
        fi = claim.filing_indicator
        if claim.lines:
            units = [(line.service_date, line.adjustments, line.paid) for line in claim.lines]
            assert not any(a[1] == "253" for a in claim.adjustments)
        else:
            units = [(claim.dates["233"], claim.adjustments, claim.paid)]
        for day, adjustments, paid in units:
            assert day is not None
            cuts = [a[2] for a in adjustments if a[1] == "253"]
            assert all(a[0] == "CO" for a in adjustments if a[1] == "253")
            if fi not in MEDICARE_FFS | {"16"}:
                assert not cuts, (parsed.name, claim.clp01)
                continue
            rate = rate_for(day)
            if not cuts:
                assert fi == "16" or rate == 0 or paid == 0, (parsed.name, claim.clp01, day)
                continue
            assert len(cuts) == 1 and rate > 0
            base = (paid + cuts[0]) * sign
            assert cuts[0] * sign == (rate * base).quantize(CENT, ROUND_HALF_UP)


def parse_dir(directory: Path) -> list[ParsedFile]:
    return [naive_parse(p.read_bytes(), p.name) for p in sorted(directory.glob("*.835"))]


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    first = generate_file(11, claims=40, transactions=3, interchanges=2)
    again = generate_file(11, claims=40, transactions=3, interchanges=2)
    other = generate_file(12, claims=40, transactions=3, interchanges=2)
    assert first.content == again.content
    assert first.truth.to_dict() == again.truth.to_dict()
    assert first.content != other.content

    a = generate_batch(tmp_path / "a", 5, seed="s", claims_per_file=15)
    b = generate_batch(tmp_path / "b", 5, seed="s", claims_per_file=15)
    assert a.to_dict() == b.to_dict()
    for path in sorted((tmp_path / "a").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()
    # a batch file is the same file generate_file makes for that index
    third = generate_file("s", index=2, claims=15)
    assert (tmp_path / "a" / third.name).read_bytes() == third.content
    assert third.truth.sha256 == a.files[2].sha256


@pytest.mark.parametrize("payer", sorted(generator.PAYERS))
def test_every_file_balances_and_its_envelopes_count(payer: str) -> None:
    for seed in range(4):
        made = generate_file(seed, payer=payer, claims=60, transactions=4, interchanges=2)
        parsed = naive_parse(made.content, made.name)
        check_envelopes(parsed)
        check_balances(parsed)
        check_sequestration(parsed)
        assert_truth_matches([parsed], {"totals": made.truth.totals.to_dict()})
        assert made.truth.totals.claim_count == 60


def test_batch_truth_equals_a_naive_reading(tmp_path: Path) -> None:
    truth = generate_batch(
        tmp_path,
        10,
        seed=2024,
        claims_per_file=45,
        transactions_per_file=3,
        interchanges_per_file=2,
    )
    files = parse_dir(tmp_path)
    assert [f.name for f in files] == sorted(f.file_name for f in truth.files)
    for parsed in files:
        check_envelopes(parsed)
        check_balances(parsed)
    assert_truth_matches(files, truth.to_dict())
    assert truth.totals.reversal_count > 0
    assert truth.totals.review_queue_count > 0
    assert truth.totals.safe_to_close_count > 0
    # a reversal's negative CO-253 cancels its original's
    assert truth.totals.sum_co253 < truth.totals.sum_co253_excluding_reversals
    json.dumps(truth.to_dict())  # JSON-ready


SEPARATORS = "*|^~!#$%&+,/;<=>?@[]{}`':\x1d\x1e\x1f"


@st.composite
def delimiter_sets(draw: st.DrawFn) -> Delimiters:
    chosen = draw(st.lists(st.sampled_from(SEPARATORS), min_size=4, max_size=4, unique=True))
    line_break = draw(st.sampled_from(["", "\n", "\r\n"]))
    return Delimiters(*chosen, line_break=line_break)


@settings(
    max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    delimiters=delimiter_sets(),
    seed=st.integers(0, 10_000),
    payer=st.sampled_from(sorted(generator.PAYERS)),
)
def test_any_delimiters_and_line_breaks_still_parse(
    delimiters: Delimiters, seed: int, payer: str
) -> None:
    made = generate_file(seed, payer=payer, claims=12, transactions=2, delimiters=delimiters)
    text = made.content.decode("ascii")
    assert text[3] == delimiters.element and text[104] == delimiters.component
    assert text[82] == delimiters.repetition and text[105] == delimiters.segment
    if delimiters.line_break:
        assert (
            text.count(delimiters.segment + delimiters.line_break)
            == made.truth.totals.segment_count
        )
    parsed = naive_parse(made.content, made.name)
    check_envelopes(parsed)
    check_balances(parsed)
    assert_truth_matches([parsed], {"totals": made.truth.totals.to_dict()})


def test_newline_as_segment_terminator() -> None:
    made = generate_file(5, claims=10, delimiters=Delimiters(segment="\n"))
    parsed = naive_parse(made.content)
    check_envelopes(parsed)
    check_balances(parsed)


@pytest.mark.parametrize(
    "bad",
    [
        {"element": "*", "component": "*"},
        {"element": "A"},
        {"component": "."},
        {"segment": "-"},
        {"line_break": "\t"},
        {"element": "\n"},
    ],
)
def test_unusable_delimiters_are_refused(bad: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        Delimiters(**bad)


def test_sequestration_follows_the_date_of_service() -> None:
    """Across many files every CO-253 is right for its date; the suspension has none."""
    seen_rates: set[Decimal] = set()
    for seed in range(12):
        for payer in ("mcrb", "mcra", "mcadv"):
            made = generate_file(seed, payer=payer, claims=40)
            parsed = naive_parse(made.content)
            check_sequestration(parsed)
            for _, _, claim in parsed.claims():
                for line in claim.lines:
                    if any(a[1] == "253" for a in line.adjustments):
                        assert line.service_date is not None
                        seen_rates.add(rate_for(line.service_date))
    assert seen_rates == {Decimal("0.01"), Decimal("0.02")}


def test_sized_batch_is_about_the_target_and_true(tmp_path: Path) -> None:
    truth = generate_batch(tmp_path, seed=9, target_bytes=3_000_000, file_bytes=1_000_000)
    sizes = [p.stat().st_size for p in sorted(tmp_path.glob("*.835"))]
    assert len(sizes) == 3
    assert all(1_000_000 <= s < 1_400_000 for s in sizes)
    assert truth.totals.byte_count == sum(sizes)
    files = parse_dir(tmp_path)
    for parsed in files:
        check_envelopes(parsed)
        check_balances(parsed)
        check_sequestration(parsed)
    assert_truth_matches(files, truth.to_dict(claims=False))
    # replays carry fresh identifiers
    clp07s = [c.clp07 for f in files for _, _, c in f.claims() if c.status != "22"]
    assert len(clp07s) == len(set(clp07s))


def test_replayed_claims_survive_a_percent_delimiter() -> None:
    """Replay templates are %-format strings; a '%' separator must come out as itself."""
    delimiters = Delimiters("%", ":", "^", "~", "\n")
    made = generate_file(21, payer="mcrb", target_bytes=150_000, claims_per_transaction=60)
    odd = generate_file(
        21, payer="mcrb", target_bytes=150_000, claims_per_transaction=60, delimiters=delimiters
    )
    assert odd.truth.totals.claim_count == made.truth.totals.claim_count
    assert odd.truth.totals.sum_bpr02 == made.truth.totals.sum_bpr02
    parsed = naive_parse(odd.content, odd.name)
    check_envelopes(parsed)
    check_balances(parsed)
    assert_truth_matches([parsed], odd.truth.to_dict())


def test_a_callers_decimal_context_changes_nothing() -> None:
    import decimal

    expected = generate_file(8, payer="mcra", claims=30, transactions=2).content
    with decimal.localcontext() as ctx:
        ctx.prec = 5
        ctx.rounding = decimal.ROUND_DOWN
        assert generate_file(8, payer="mcra", claims=30, transactions=2).content == expected


def test_sized_batch_keeps_claim_lists_on_request(tmp_path: Path) -> None:
    truth = generate_batch(
        tmp_path, seed=4, target_bytes=600_000, file_bytes=300_000, keep_claims=True
    )
    assert_truth_matches(parse_dir(tmp_path), truth.to_dict())


@pytest.mark.slow
def test_sized_batch_is_written_file_by_file(tmp_path: Path) -> None:
    # Speed is measured by bench/run.py, not asserted here: shared machines are noisy.
    truth = generate_batch(tmp_path, seed=1, target_bytes=40_000_000, file_bytes=10_000_000)
    assert len(truth.files) == 4
    sizes = sorted(p.stat().st_size for p in tmp_path.glob("*.835"))
    assert len(sizes) == 4 and sum(sizes) == truth.totals.byte_count


def test_oxedi_agrees_on_claims_and_payments(tmp_path: Path) -> None:
    """A second, independent parser (Rust) counts the same claims and money, without
    diagnostics. Its tables are read through DuckDB's Arrow import (no pyarrow here)."""
    oxedi = pytest.importorskip("oxedi")
    duckdb = pytest.importorskip("duckdb")
    generate_batch(tmp_path, 5, seed=77, claims_per_file=30, transactions_per_file=2)
    generate_batch(
        tmp_path / "odd",
        2,
        seed=78,
        claims_per_file=20,
        transactions_per_file=2,
        delimiters=Delimiters("|", ">", "!", "'", "\r\n"),
    )
    paths = sorted(tmp_path.glob("**/*.835")) + sorted(SAMPLES.glob("*.835"))
    con = duckdb.connect()
    for path in paths:
        parsed = naive_parse(path.read_bytes(), path.name)
        result = oxedi.parse(path.read_bytes())
        assert [str(d) for d in result.diagnostics] == []
        claims = [c for _, _, c in parsed.claims()]
        assert result.count_claims() == len(claims), path.name
        claims_table = result.tables["claims"]  # noqa: F841 (DuckDB reads it by name)
        [(paid,)] = con.sql("select coalesce(sum(payment_amount), 0) from claims_table").fetchall()
        assert paid == sum(c.paid for c in claims), path.name
        bpr = sum((Decimal(t.bpr[2]) for t in parsed.transactions()), ZERO)
        assert Decimal(str(result.sum_payments())) == bpr


def test_people_are_obviously_synthetic() -> None:
    made = generate_file(3, claims=80, transactions=2)
    for _, _, claim in naive_parse(made.content).claims():
        assert re.fullmatch(r"TESTPATIENT\d{4}", claim.patient[3])
        assert claim.patient[8] == "MI" and re.fullmatch(r"ZZ\d{6}", claim.patient[9])
        assert claim.clp01.startswith("TPCN")


def test_cli_prints_the_truth_summary(tmp_path: Path) -> None:
    out = tmp_path / "era"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "etl.generator",
            "--out",
            str(out),
            "--files",
            "3",
            "--seed",
            "5",
            "--truth",
            str(tmp_path / "truth.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(done.stdout)
    assert summary["totals"]["file_count"] == 3
    assert "review_queue" not in summary
    full = json.loads((tmp_path / "truth.json").read_text())
    assert full["totals"] == summary["totals"]
    assert_truth_matches(parse_dir(out), full)


# --------------------------------------------------------------------------------------------
# The bundled samples
# --------------------------------------------------------------------------------------------


def test_bundled_samples_are_what_the_generator_writes(tmp_path: Path) -> None:
    truth = write_samples(tmp_path / "era")
    committed = sorted(p.name for p in SAMPLES.iterdir())
    assert committed == sorted(p.name for p in (tmp_path / "era").iterdir())
    for name in committed:
        assert (SAMPLES / name).read_bytes() == (tmp_path / "era" / name).read_bytes(), name
    assert json.loads(SAMPLE_TRUTH.read_text()) == truth.to_dict()


def test_bundled_truth_equals_a_naive_reading() -> None:
    files = parse_dir(SAMPLES)
    for parsed in files:
        check_envelopes(parsed)
        check_balances(parsed)
        check_sequestration(parsed)
    assert_truth_matches(files, json.loads(SAMPLE_TRUTH.read_text()))


def sample_coverage(files: list[ParsedFile]) -> dict[str, bool]:
    """What the demo inbox must show, each as a named yes/no (shared with the seed search)."""
    claims = [(f, c) for f in files for _, _, c in f.claims()]
    codes = {id(c): {f"{a[0]}-{a[1]}" for a in c.all_adjustments()} for _, c in claims}
    review = [c for _, c in claims if (naive_classify(c) or ("",))[0] == "review"]

    def in_review(procedure: str, code: str) -> bool:
        return any(
            any(
                line.procedure[1] == procedure
                and any(f"{a[0]}-{a[1]}" == code for a in line.adjustments)
                for line in c.lines
            )
            for c in review
        )

    plb = [p for f in files for t in f.transactions() for p in t.plb]
    part_a = [c for _, c in claims if c.filing_indicator == "MA"]
    advantage = [c for _, c in claims if c.filing_indicator == "16"]
    medicare_lines = [
        line for _, c in claims if c.filing_indicator == "MB" for line in c.lines if line.paid
    ]
    cut_rates = {
        rate_for(line.service_date)
        for line in medicare_lines
        if line.service_date and any(a[1] == "253" for a in line.adjustments)
    } | {rate_for(c.dates["233"]) for c in part_a if "CO-253" in codes[id(c)]}
    zero_periods = {
        "pre2013" if line.service_date < date(2013, 4, 1) else "suspension"
        for line in medicare_lines
        if line.service_date and rate_for(line.service_date) == 0
    }
    cas = [s for _, c in claims for s in c.cas_segments]
    return {
        "payer kinds": {c.filing_indicator for _, c in claims} >= {"MA", "MB", "16", "MC"}
        and bool({"12", "13", "14", "15", "HM"} & {c.filing_indicator for _, c in claims}),
        "CLP02 values": {c.status for _, c in claims} >= {"1", "2", "3", "4", "19", "22"},
        "PLB WO L6 FB": {p[0] for p in plb} >= {"WO", "L6", "FB"},
        "PLB FB forwards a negative net": any(p[0] == "FB" and p[2] < 0 for p in plb),
        "BPR02 zero": any(Decimal(t.bpr[2]) == 0 for f in files for t in f.transactions()),
        "anesthesia QX CO-4": in_review("00142", "CO-4"),
        "90837 CO-151": in_review("90837", "CO-151"),
        "92928 CO-50": in_review("92928", "CO-50"),
        "99213 CO-97": in_review("99213", "CO-97"),
        "Part A claim-level CO-253": any(
            not c.lines and "CO-253" in codes[id(c)] and c.status != "22" for c in part_a
        ),
        "Part A denied days beside CO-253": any(
            {"CO-50", "CO-253"} <= codes[id(c)] for c in part_a
        ),
        "MA with and without CO-253": any("CO-253" in codes[id(c)] for c in advantage)
        and any("CO-253" not in codes[id(c)] and c.paid > 0 for c in advantage),
        "safe to close": any((naive_classify(c) or ("",))[0] == "safe" for _, c in claims),
        "1% and 2%": cut_rates >= {Decimal("0.01"), Decimal("0.02")},
        "pre-2013 and suspension": zero_periods == {"pre2013", "suspension"},
        "multi-triplet CAS": any(len(s) >= 6 for s in cas),
        "CAS quantity": any(any(a[3] for a in c.all_adjustments()) for _, c in claims),
        "several ST": any(len(f.transactions()) > 1 for f in files),
        "several ISA": any(len(f.interchanges) > 1 for f in files),
        "other delimiters": any(f.element != "*" for f in files),
    }


def test_bundled_samples_cover_every_pattern() -> None:
    files = parse_dir(SAMPLES)
    missing = [name for name, ok in sample_coverage(files).items() if not ok]
    assert not missing
    raw = [p.read_bytes() for p in sorted(SAMPLES.glob("*.835"))]
    assert any(b"\r\n" in r for r in raw) and any(b"~\n" in r for r in raw)
    assert any(b"\n" not in r for r in raw)
    assert all(len(r) < 10_000 for r in raw)


@pytest.mark.integration
def test_files_of_two_seeds_are_not_the_same_payment_to_the_loader(tmp_path):
    """The same index under two seeds (a benchmark batch and the file its incremental run
    adds) must not repeat an envelope (ISA06 + ISA13 + ST02) or a trace: loaded into one
    warehouse, the loader's duplicate-payment check finds nothing."""
    from etl.loader import ingest_paths
    from etl.warehouse import Warehouse

    files = [generate_file(seed, index=0, claims=12, transactions=3) for seed in ("a", "b")]
    isa13 = [re.search(rb"^ISA(?:\*[^*]*){12}\*([0-9]{9})\*", f.content).group(1)
             for f in files]
    assert isa13[0] != isa13[1]
    paths = []
    for seed, f in zip("ab", files):
        path = tmp_path / seed / f.name
        path.parent.mkdir()
        path.write_bytes(f.content)
        paths.append(path)
    wh = Warehouse.from_url(str(tmp_path / "w.duckdb"))
    report = ingest_paths(paths, wh)
    assert [r.status for r in report.results] == ["loaded", "loaded"]
    assert wh.query("select count(*) from raw.file_findings "
                    "where finding_code = 'DUPLICATE_PAYMENT'") == [(0,)]
    # the check itself still works on these files: a copy of the first with a line break
    # after its ISA (other bytes, the same payments) repeats each of its 3 transactions
    twin = tmp_path / "twin" / files[0].name
    twin.parent.mkdir()
    twin.write_bytes(files[0].content.replace(b"~", b"~\n", 1))
    report = ingest_paths([twin], wh)
    assert [r.status for r in report.results] == ["loaded"]
    assert wh.query("select count(*) from raw.file_findings where finding_code = "
                    "'DUPLICATE_PAYMENT'")[0][0] == 3  # one per transaction
