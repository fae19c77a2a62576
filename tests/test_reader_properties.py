"""Property: any balanced 835, whatever its delimiters, line breaks and envelope counts,
round-trips through the raw load segment for segment.

Hypothesis draws the file as data (interchanges, groups, transactions, claims, service
lines, CAS triplets, PLB pairs, right or wrong envelope counts) and writes it with
random delimiters. The expectations come from that data, never from reading the text:
every segment with its elements, the loop numbering, the counts and sums, and one
finding for each envelope count or control number that was drawn wrong.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from readerkit import findings, ingest, isa, metrics, release, restyle, segments

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("ERAFLOW_PROPERTY_EXAMPLES", "20"))
# Characters that may be delimiters: never in the data below (A-Z, 0-9, space, '.', '-').
SEPARATORS = "*|^!>:\\{}`#$%&+;=?@[]<"
GROUPS = ["CO", "PR", "OA", "PI", "CR"]
REASONS = ["45", "253", "1", "2", "3", "23", "97", "50", "16", "B7", "Z99", "999", "A1"]
STATUSES = ["1", "2", "3", "4", "19", "20", "21", "22", "23", "25"]


@dataclass
class Truth:
    segments: list[str] = field(default_factory=list)  # written with * : ^
    findings: list[tuple] = field(default_factory=list)  # (pos, id, code)
    places: list[tuple] = field(default_factory=list)  # (id, transaction, claim, line)
    claims: int = 0
    service_lines: int = 0
    cas_triplets: int = 0
    cents: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("clp03", "clp04", "clp05", "svc02", "svc03", "cas_amount"), 0))

    def add(self, seg: str) -> int:
        self.segments.append(seg)
        return len(self.segments)


def _money(draw, cents: int) -> str:
    value = Decimal(cents) / 100
    style = draw(st.sampled_from(["fixed", "short"]))
    text = f"{value:.2f}" if style == "fixed" else format(value.normalize(), "f")
    return "0" if text in ("-0", "-0.00") else text


def _cas(draw, truth: Truth) -> tuple[str, int, int]:
    """A CAS segment of 1 to 6 triplets; returns it, its total and its PR total."""
    group = draw(st.sampled_from(GROUPS))
    n = draw(st.integers(1, 6))
    elements, total = [group], 0
    for _ in range(n):
        amount = draw(st.integers(-20_000, 80_000))
        quantity = draw(st.one_of(st.none(), st.integers(0, 12)))
        elements += [draw(st.sampled_from(REASONS)), _money(draw, amount),
                     "" if quantity is None else str(quantity)]
        total += amount
    while elements[-1] == "":
        elements.pop()
    truth.cas_triplets += n
    truth.cents["cas_amount"] += total
    return "CAS*" + "*".join(elements), total, total if group == "PR" else 0


def _claim(draw, truth: Truth, txn: int, seq: int) -> int:
    """Writes one claim (2100 and its 2110 loops); returns CLP04 in cents."""
    body, places = [], []
    charge = paid_lines = adjusted = patient = 0
    for line in range(1, draw(st.integers(0, 2)) + 1):
        svc02 = draw(st.integers(0, 300_000))
        cas = [_cas(draw, truth) for _ in range(draw(st.integers(0, 2)))]
        line_adj = sum(c[1] for c in cas)
        qualifier = draw(st.sampled_from(["HC:99213", "HC:99214:25", "AD:D0120", "NU:0450",
                                          "ZZ:LOCAL1", "N4:12345678901"]))
        body.append(f"SVC*{qualifier}*{_money(draw, svc02)}*{_money(draw, svc02 - line_adj)}"
                    f"**1")
        places.append(("SVC", txn, seq, line))
        body.append("DTM*472*20240102")
        places.append(("DTM", txn, seq, line))
        for text, _, pr in cas:
            body.append(text)
            places.append(("CAS", txn, seq, line))
            patient += pr
        charge += svc02
        paid_lines += svc02 - line_adj
        adjusted += line_adj
        truth.service_lines += 1
        truth.cents["svc02"] += svc02
        truth.cents["svc03"] += svc02 - line_adj
    claim_level = []
    for _ in range(draw(st.integers(0, 2) if body else st.integers(1, 2))):
        claim_level.append(_cas(draw, truth))
    if not body:  # no service lines (inpatient Part A): the charge is the claim's own
        charge = draw(st.integers(0, 2_000_000))
    claim_adj = sum(c[1] for c in claim_level)
    patient += sum(c[2] for c in claim_level)
    clp04 = charge - adjusted - claim_adj
    clp05 = "" if patient == 0 and draw(st.booleans()) else _money(draw, patient)

    head = [f"CLP*K{txn}X{seq}*{draw(st.sampled_from(STATUSES))}*{_money(draw, charge)}*"
            f"{_money(draw, clp04)}*{clp05}*MB*PCN{txn}X{seq}"]
    head += [c[0] for c in claim_level]
    head.append(f"NM1*QC*1*TESTPATIENT{seq}*ANN****MI*ZZ{seq:06d}")
    if draw(st.booleans()):
        head.append("MOA***MA01")
    for seg in head:
        truth.add(seg)
        truth.places.append((seg.split("*")[0], txn, seq, None))
    for seg, place in zip(body, places):
        truth.add(seg)
        truth.places.append(place)
    truth.claims += 1
    truth.cents["clp03"] += charge
    truth.cents["clp04"] += clp04
    truth.cents["clp05"] += patient
    return clp04


def _transaction(draw, truth: Truth, txn: int, st02: str) -> None:
    st_pos = truth.add(f"ST*835*{st02}")
    bpr = truth.add("BPR*I*0*C*ACH")  # BPR02 filled in below
    truth.add(f"TRN*1*TRACE{txn}*1999999999")
    truth.add("DTM*405*20240104")
    truth.add(f"N1*PR*TEST PAYER {txn}")
    truth.add("N4*SPRINGFIELD*IL*62701")
    truth.add(f"N1*PE*TEST CLINIC {txn}*XX*1999999999")
    paid, seq = 0, 0
    for header in range(1, draw(st.integers(1, 2)) + 1):
        truth.add(f"LX*{header}")
        for _ in range(draw(st.integers(0, 2))):
            seq += 1
            paid += _claim(draw, truth, txn, seq)
    plb_total = 0
    for _ in range(draw(st.integers(0, 2))):
        pairs = []
        for _ in range(draw(st.integers(1, 6))):
            amount = draw(st.integers(-10_000, 10_000))
            pairs += [draw(st.sampled_from(["WO:REF1", "L6", "FB:X1", "72", "J1", "CS:A"])),
                      _money(draw, amount)]
            plb_total += amount
        truth.add("PLB*1999999999*20241231*" + "*".join(pairs))
    truth.segments[bpr - 1] = f"BPR*I*{_money(draw, paid - plb_total)}*C*ACH"

    count = len(truth.segments) - st_pos + 2
    se01 = count + draw(st.sampled_from([0] * 6 + [1, -1, 5]))
    se02 = st02 if draw(st.integers(0, 9)) else "9999"
    se_pos = truth.add(f"SE*{se01}*{se02}")
    if se01 != count:
        truth.findings.append((se_pos, "SE", "SE01_COUNT_MISMATCH"))
    if se02 != st02:
        truth.findings.append((se_pos, "SE", "CONTROL_NUMBER_MISMATCH"))


@st.composite
def remittances(draw):
    """(text, truth, element, component, repetition)."""
    element, component, repetition, terminator = _delimiters(draw)
    line_break = draw(st.sampled_from(["", "\n", "\r\n"])) if terminator not in "\r\n" else (
        draw(st.sampled_from(["", "\n"])) if terminator == "\r" else "")
    version = draw(st.sampled_from(["00501", "00401"]))
    gs08 = "005010X221A1" if version == "00501" else "004010X091A1"

    truth = Truth()
    txn = 0
    interchanges = []
    for control in range(1, draw(st.integers(1, 3)) + 1):
        start = len(truth.segments)
        truth.add(isa(control, version=version))
        groups = draw(st.integers(1, 2))
        for g in range(1, groups + 1):
            gs06 = f"{control}{g}"
            truth.add(f"GS*HP*SENDER*RECEIVER*20240105*1200*{gs06}*X*{gs08}")
            n = draw(st.integers(1, 2))
            for k in range(1, n + 1):
                txn += 1
                _transaction(draw, truth, txn, f"{k:04d}")
            ge01 = n if draw(st.integers(0, 9)) else n + 1
            ge02 = gs06 if draw(st.integers(0, 9)) else "77"
            pos = truth.add(f"GE*{ge01}*{ge02}")
            if ge01 != n:
                truth.findings.append((pos, "GE", "GE01_COUNT_MISMATCH"))
            if ge02 != gs06:
                truth.findings.append((pos, "GE", "CONTROL_NUMBER_MISMATCH"))
        iea01 = groups if draw(st.integers(0, 9)) else groups + 2
        iea02 = f"{control:09d}" if draw(st.integers(0, 9)) else "000000999"
        pos = truth.add(f"IEA*{iea01}*{iea02}")
        if iea01 != groups:
            truth.findings.append((pos, "IEA", "IEA01_COUNT_MISMATCH"))
        if iea02 != f"{control:09d}":
            truth.findings.append((pos, "IEA", "CONTROL_NUMBER_MISMATCH"))
        interchanges.append(truth.segments[start:])

    blank = draw(st.sampled_from(["", "\n", "\r\n\r\n"]))
    text = blank.join("".join(seg + "~" for seg in segs) for segs in interchanges)
    text = restyle(text, element=element, component=component, repetition=repetition,
                   terminator=terminator, line_break=line_break)
    if draw(st.booleans()):
        text = "\ufeff" + text
    return text, truth, element, component, repetition


def _delimiters(draw) -> tuple[str, str, str, str]:
    terminator = draw(st.sampled_from(["~", "\n", "\r", "'", "#"]))
    pool = [c for c in SEPARATORS if c != terminator]
    element = draw(st.sampled_from(pool))
    pool.remove(element)
    component = draw(st.sampled_from(pool))
    pool.remove(component)
    repetition = draw(st.sampled_from(pool))
    return element, component, repetition, terminator


def _expected(truth: Truth, component: str, repetition: str) -> list[tuple[str, list[str]]]:
    table = str.maketrans({":": component, "^": repetition})
    out = []
    for seg in truth.segments:
        parts = seg.split("*")
        out.append((parts[0], [p.translate(table) for p in parts[1:]]))
    return out


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One warehouse for every example (a new DuckDB file per example costs more than
    the load). An example drawn twice is skipped the second time and checked against
    the rows its first load left."""
    from etl.warehouse import Warehouse

    tmp = tmp_path_factory.mktemp("properties")
    yield tmp, Warehouse.from_url(str(tmp / "warehouse.duckdb"))
    release()


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(drawn=remittances())
def test_raw_load_round_trips_every_segment(shared, drawn):
    tmp, wh = shared
    text, truth, element, component, repetition = drawn
    batch = ingest(tmp, {"drawn.835": text}, wh)
    result = batch.result("drawn.835")
    assert result.status in ("loaded", "skipped"), result.reason
    rows = segments(wh, result.file_id)

    assert [(r["segment_id"], r["elements"]) for r in rows] == _expected(
        truth, component, repetition)
    assert [r["segment_pos"] for r in rows] == list(range(1, len(rows) + 1))
    assert {r["component_sep"] for r in rows} == {component}

    placed = [(r["segment_id"], r["transaction_seq"], r["claim_seq"], r["line_seq"])
              for r in rows if r["claim_seq"] is not None]
    assert placed == truth.places

    got = metrics(wh, result.file_id)
    assert (got["claims"], got["service_lines"], got["cas_triplets"]) == (
        truth.claims, truth.service_lines, truth.cas_triplets)
    for key, cents in truth.cents.items():
        assert got[key] == (Decimal(cents) / 100).quantize(Decimal("0.01")), key

    # the examples share a warehouse and their traces, so later ones are (rightly)
    # duplicate payments of earlier ones: that finding is tested on its own elsewhere
    got_findings = [(f[0], f[1], f[2]) for f in findings(wh, result.file_id)
                    if f[2] != "DUPLICATE_PAYMENT"]
    assert sorted(got_findings) == sorted(truth.findings)
