"""Deterministic synthetic X12 835 (005010X221A1) remittance files, with their truth.

The pipeline has to be tested, demonstrated and benchmarked on files whose every number is known
in advance, and no real remittance may ever enter the repository. So the generator builds each
claim as an object whose amounts balance by construction, renders it as 835 text, and tallies
the truth (counts, sums, the denial review queue, the safe-to-close claims, the reversal pairs)
from those same objects. The truth is never obtained by reading the text back: a test that
parses the files and compares with the truth therefore checks the parser and the marts, not
the generator against itself.

Everything is synthetic and says so: patients are ``TESTPATIENTnnnn`` with member ids
``ZZnnnnnn``, payers and providers are named ``TEST ...``, NPIs start with 9 (no issued NPI
does, yet the check digit is valid) and phone numbers are in the fictional 555-01xx range.

The same seed gives the same bytes: every file draws from its own ``random.Random`` seeded by
text (``eraflow-835:<seed>:<index>``), which Python hashes the same way on every platform and
run, and no date or counter comes from the clock.

Known simplifications, stated here because a reader of the data would otherwise wonder:

- sequestration is always reported as CARC 253, also for 2013 dates of service when Medicare
  still used CARC 223 for a few months;
- a Medicare Advantage plan's pass-through of CO-253 is drawn per claim, not per contract;
- a reversal's original is always paid in an earlier transaction (ST) of the same file, so a
  file with a single transaction has no reversal; the generator never writes orphan reversals;
- OA-23 (prior payer impact) appears only on secondary and tertiary claims, which never carry
  CO-253, so it never decides whether a claim belongs in the review queue;
- TS3/TS2, claim-level AMT/QTY and MIA money fields are not written (they are informational);
- sized files (``target_bytes``, for the benchmark) replay a pool of priced claims under fresh
  identifiers to reach tens of MB/s in pure Python, so their amounts repeat (see
  ``generate_file``); count-mode files, the samples and the tests price every claim.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import math
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from functools import cache
from pathlib import Path
from typing import NamedTuple

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
#: Every public function generates inside this context, so that a caller's decimal settings
#: (a low precision, another rounding) cannot change a single cent of the output.
MONEY_CONTEXT = Context(
    prec=28, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
)

# --------------------------------------------------------------------------------------------
# The generator's own truth tables. They are data, not code, so that a reader can check them
# against reference/sequestration_rates.csv and reference/carc_categories.csv at a glance.
# --------------------------------------------------------------------------------------------

#: Medicare FFS sequestration by date of service: (first day, last day, rate).
SEQUESTRATION_RATES: tuple[tuple[date, date, Decimal], ...] = (
    (date(1900, 1, 1), date(2013, 3, 31), Decimal(0)),
    (date(2013, 4, 1), date(2020, 4, 30), Decimal("0.02")),
    (date(2020, 5, 1), date(2022, 3, 31), Decimal(0)),  # suspended: no CO-253 at all
    (date(2022, 4, 1), date(2022, 6, 30), Decimal("0.01")),
    (date(2022, 7, 1), date(9999, 12, 31), Decimal("0.02")),
)
_RATE_STARTS = [row[0] for row in SEQUESTRATION_RATES]

CONTRACTUAL = ("CO", "45")
SEQUESTRATION = ("CO", "253")
COST_SHARE = frozenset({("PR", "1"), ("PR", "2"), ("PR", "3")})

#: The denial-category adjustments the generator writes, by (group, reason), with their kind.
#: OA-23 is left out on purpose: the CARC list files it as a COB "denial", but it is prior-payer
#: accounting and the generator never puts it beside CO-253 (see the module docstring).
DENIALS: dict[tuple[str, str], str] = {
    ("CO", "4"): "coding_modifier",
    ("CO", "16"): "missing_info",
    ("CO", "18"): "duplicate",
    ("CO", "27"): "eligibility",
    ("CO", "29"): "timely_filing",
    ("CO", "50"): "medical_necessity",
    ("CO", "97"): "bundling",
    ("CO", "151"): "frequency",
    ("CO", "197"): "authorization",
}

#: Remark codes (RARC) sent with some denials, so that LQ segments appear as they do in life.
DENIAL_REMARKS = {"16": "MA130", "97": "M15", "151": "N362"}

#: Medicare Part A inpatient deductible by year of the "through" date (illustrative amounts).
PART_A_DEDUCTIBLE = {
    2012: 1156,
    2013: 1184,
    2014: 1216,
    2015: 1260,
    2016: 1288,
    2017: 1316,
    2018: 1340,
    2019: 1364,
    2020: 1408,
    2021: 1484,
    2022: 1556,
    2023: 1600,
    2024: 1632,
    2025: 1676,
}

#: Procedure codes with a synthetic charge range in dollars per unit.
CHARGES: dict[str, tuple[int, int]] = {
    "99203": (120, 200),
    "99213": (90, 160),
    "99214": (120, 220),
    "99215": (180, 300),
    "G0439": (150, 250),
    "36415": (10, 30),
    "80053": (30, 80),
    "85025": (20, 50),
    "93000": (40, 90),
    "71046": (60, 150),
    "73562": (70, 160),
    "J1100": (5, 20),
    "97110": (40, 90),
    "20610": (150, 300),
    "00142": (60, 110),
    "90791": (200, 350),
    "90834": (120, 200),
    "90837": (160, 260),
    "93458": (1500, 3500),
    "92928": (5000, 9000),
    "99024": (0, 0),
}
VISITS = ("99213", "99214", "99214", "99215", "99203", "G0439")
#: Extra lines of a visit claim: (code, modifiers, most units).
EXTRAS: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("36415", (), 1),
    ("80053", (), 1),
    ("85025", (), 1),
    ("93000", (), 1),
    ("71046", (), 1),
    ("J1100", (), 4),
    ("97110", ("GP",), 4),
    ("20610", ("RT",), 1),
)
#: Clinical lab and the annual wellness visit carry no Medicare cost share.
NO_MEDICARE_COST_SHARE = frozenset({"36415", "80053", "85025", "G0439"})
EVALUATION_CODES = frozenset({"99203", "99213", "99214", "99215"})
#: Replay mode (sized files): how many priced claims a file keeps to replay, and the share of
#: claims that are priced fresh (and refresh the pool) instead of replayed.
POOL_SIZE = 256
FRESH_SHARE = 0.03

DRGS = ("470", "291", "871", "392", "194", "682")
FIRST_NAMES = ("ALPHA", "BRAVO", "CHARLIE", "DELTA", "ECHO", "FOXTROT", "GOLF", "HOTEL")


# --------------------------------------------------------------------------------------------
# Payers, payees and the text shape
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payer:
    """One synthetic payer: who it is, how it files claims and which claim scenarios it sends.

    ``scenarios`` are weights; the scenario builders live in ``_FileBuilder``.
    """

    key: str  # part of the file name
    kind: str  # medicare_b, medicare_a, medicare_advantage, commercial, medicaid
    name: str  # N1*PR N102
    payer_id: str  # N1*PR N104 (XV)
    trace_id: str  # TRN03: '1' + a synthetic EIN
    filing_indicators: tuple[str, ...]  # CLP06 values drawn from
    icn_prefix: str  # first digits of CLP07
    line_denials: tuple[str, ...]  # CO reasons that deny one line
    claim_denials: tuple[str, ...]  # CO reasons that deny a whole claim (CLP02 4)
    scenarios: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Payee:
    """One synthetic provider that receives the payments (N1*PE)."""

    name: str
    npi: str
    tax_id: str


def _npi(base9: str) -> str:
    """Append the NPI Luhn check digit (computed with the 80840 card-issuer prefix).

    A valid check digit keeps validators quiet; the leading 9 keeps the number out of the
    range ever issued, so it can never name a real provider.
    """
    total = 0
    for position, char in enumerate(reversed("80840" + base9)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return base9 + str((10 - total % 10) % 10)


PAYERS: dict[str, Payer] = {
    "mcrb": Payer(
        key="mcrb",
        kind="medicare_b",
        name="TEST MEDICARE PART B MAC",
        payer_id="TSTMB0001",
        trace_id="1999000001",
        filing_indicators=("MB",),
        icn_prefix="21",
        line_denials=("50", "97", "18", "151", "4", "16"),
        claim_denials=("16", "18", "29", "27"),
        scenarios=(
            ("routine", 46),
            ("forwarded", 14),
            ("denied_line", 12),
            ("denied_claim", 5),
            ("anesthesia", 3),
            ("psychotherapy", 3),
            ("angioplasty", 2),
            ("knee_global", 3),
            ("reversal", 4),
        ),
    ),
    "mcra": Payer(
        key="mcra",
        kind="medicare_a",
        name="TEST MEDICARE PART A MAC",
        payer_id="TSTMA0001",
        trace_id="1999000002",
        filing_indicators=("MA",),
        icn_prefix="22",
        line_denials=(),
        claim_denials=("16", "29", "50", "18"),
        scenarios=(
            ("inpatient", 64),
            ("inpatient_forwarded", 12),
            ("inpatient_partial_denial", 12),
            ("inpatient_denied", 6),
            ("reversal", 6),
        ),
    ),
    "mcadv": Payer(
        key="mcadv",
        kind="medicare_advantage",
        name="TEST MEDICARE ADVANTAGE PLAN",
        payer_id="TSTMADV01",
        trace_id="1999000003",
        filing_indicators=("16",),
        icn_prefix="31",
        line_denials=("197", "50", "97", "4", "16", "151"),
        claim_denials=("197", "27", "29", "16", "18"),
        scenarios=(
            ("routine", 55),
            ("denied_line", 16),
            ("denied_claim", 8),
            ("anesthesia", 2),
            ("psychotherapy", 3),
            ("knee_global", 2),
            ("angioplasty", 2),
            ("reversal", 4),
        ),
    ),
    "comm": Payer(
        key="comm",
        kind="commercial",
        name="TEST COMMERCIAL HEALTH PLAN",
        payer_id="TSTCOMM01",
        trace_id="1999000004",
        icn_prefix="41",
        # X221A1 allows 12-15 and HM for commercial plans; CI and BL exist only in 4010 and
        # the 837, and a 5010 validator rejects them in CLP06.
        filing_indicators=("12", "12", "12", "13", "14", "15", "HM"),
        line_denials=("197", "50", "97", "4", "16", "18"),
        claim_denials=("27", "197", "29", "16", "18"),
        scenarios=(
            ("routine", 48),
            ("secondary", 12),
            ("tertiary", 4),
            ("denied_line", 13),
            ("denied_claim", 9),
            ("psychotherapy", 3),
            ("angioplasty", 2),
            ("reversal", 4),
        ),
    ),
    "mcd": Payer(
        key="mcd",
        kind="medicaid",
        name="TEST STATE MEDICAID",
        payer_id="TSTMCD001",
        trace_id="1999000005",
        filing_indicators=("MC",),
        icn_prefix="51",
        line_denials=("197", "16", "18", "97"),
        claim_denials=("27", "16", "29", "197"),
        scenarios=(
            ("routine", 52),
            ("secondary", 22),
            ("denied_claim", 10),
            ("denied_line", 10),
            ("reversal", 4),
        ),
    ),
}
PAYER_ROTATION = ("mcrb", "mcra", "mcadv", "comm", "mcd")

CLINICS = tuple(
    Payee(f"TEST FAMILY CLINIC {n:02d}", _npi(f"9990000{n:02d}"), f"9900000{n:02d}")
    for n in range(1, 5)
)
HOSPITALS = tuple(
    Payee(f"TEST GENERAL HOSPITAL {n:02d}", _npi(f"9991000{n:02d}"), f"9910000{n:02d}")
    for n in range(1, 3)
)
RENDERING_NPIS = tuple(_npi(f"9992000{n:02d}") for n in range(1, 9))

#: Characters the generated data uses; no delimiter may be one of them.
_DATA_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .-")


@dataclass(frozen=True)
class Delimiters:
    """The shape of the text: the four X12 delimiters and what follows each terminator.

    Parsers must read delimiters from the ISA, never assume them, so the generator lets tests
    vary every one of them.
    """

    element: str = "*"
    component: str = ":"
    repetition: str = "^"
    segment: str = "~"
    line_break: str = ""  # "", "\n" or "\r\n"

    def __post_init__(self) -> None:
        separators = (self.element, self.component, self.repetition, self.segment)
        if any(len(s) != 1 for s in separators) or len(set(separators)) != 4:
            raise ValueError("delimiters must be four distinct single characters")
        if self.line_break not in ("", "\n", "\r\n"):
            raise ValueError("line_break must be '', '\\n' or '\\r\\n'")
        for s in separators:
            if s in _DATA_CHARACTERS or s.islower():
                raise ValueError(f"delimiter {s!r} can occur in the data")
            if s in "\r\n" and (s != self.segment or self.line_break):
                raise ValueError("a line break can only be the segment terminator, alone")

    def to_dict(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# --------------------------------------------------------------------------------------------
# Claim objects: the generator's model of what it writes
# --------------------------------------------------------------------------------------------


class Adjustment(NamedTuple):
    """One CAS triplet. A positive amount lowers the payment."""

    group: str
    reason: str
    amount: Decimal
    quantity: int | None = None


@dataclass(slots=True)
class LineRecipe:
    """What was billed on a line and how the payer decides it, before any pricing.

    Kept on the priced line so that a corrected claim can be priced again from the same bill.
    """

    code: str
    modifiers: tuple[str, ...]
    units: int
    service_date: date
    charge: Decimal
    outcome: str = "pay"  # pay, deny, zero, secondary
    denial: str | None = None  # CO reason when outcome is deny


@dataclass(slots=True)
class ServiceLine:
    """A priced 2110 loop: SVC02 − Σ adjustments = SVC03 holds by construction."""

    recipe: LineRecipe
    charge: Decimal  # SVC02
    paid: Decimal  # SVC03
    allowed: Decimal  # AMT*B6
    adjustments: list[Adjustment]
    control_number: str  # REF*6R
    remarks: tuple[str, ...] = ()


@dataclass(slots=True)
class Claim:
    """A priced 2100 loop: CLP03 − Σ claim CAS − Σ line CAS = CLP04 holds by construction."""

    scenario: str
    patient_control_number: str  # CLP01
    status: str  # CLP02
    charge: Decimal  # CLP03
    paid: Decimal  # CLP04
    patient_responsibility: Decimal  # CLP05
    filing_indicator: str  # CLP06
    payer_claim_number: str  # CLP07
    patient: int
    received: date
    lines: list[ServiceLine] = field(default_factory=list)
    adjustments: list[Adjustment] = field(default_factory=list)  # claim level
    statement_from: date | None = None  # DTM*232 (Part A)
    statement_through: date | None = None  # DTM*233 (Part A)
    drg: str | None = None  # CLP11 (Part A)
    covered_days: int | None = None  # MIA01 (Part A)
    rendering: str | None = None  # NM1*82 NPI
    original_reference: str | None = None  # REF*F8 on a corrected claim
    remarks: tuple[str, ...] = ()  # MOA (professional) or MIA05 (Part A) remark codes
    transaction_seq: int = 0
    claim_seq: int = 0

    def all_adjustments(self) -> Iterator[Adjustment]:
        yield from self.adjustments
        for line in self.lines:
            yield from line.adjustments


# --------------------------------------------------------------------------------------------
# Truth
# --------------------------------------------------------------------------------------------


def _dec(value: Decimal) -> str:
    return str(value)


@dataclass
class Totals:
    """Counts and sums over files, tallied from the claim objects while they are written."""

    file_count: int = 0
    interchange_count: int = 0
    group_count: int = 0
    transaction_count: int = 0
    claim_count: int = 0
    service_line_count: int = 0
    cas_triplet_count: int = 0
    plb_pair_count: int = 0
    segment_count: int = 0  # every segment, ISA to IEA (rows of raw.segments)
    byte_count: int = 0
    reversal_count: int = 0
    review_queue_count: int = 0
    safe_to_close_count: int = 0
    sum_clp03: Decimal = ZERO
    sum_clp04: Decimal = ZERO
    sum_clp05: Decimal = ZERO
    sum_svc02: Decimal = ZERO
    sum_svc03: Decimal = ZERO
    sum_cas: Decimal = ZERO
    sum_co253: Decimal = ZERO
    sum_co253_excluding_reversals: Decimal = ZERO
    sum_bpr02: Decimal = ZERO
    sum_plb: Decimal = ZERO

    def add(self, other: Totals) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def to_dict(self) -> dict[str, int | str]:
        out: dict[str, int | str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = _dec(value) if isinstance(value, Decimal) else value
        return out


@dataclass(frozen=True)
class ClaimRef:
    """Where a claim is: file, its position (as the marts number it) and its two keys."""

    file_name: str
    transaction_seq: int  # 1-based ST index in the file
    claim_seq: int  # 1-based CLP index in the transaction
    patient_control_number: str  # CLP01
    payer_claim_number: str  # CLP07

    def to_dict(self) -> dict[str, int | str]:
        return {
            "file_name": self.file_name,
            "transaction_seq": self.transaction_seq,
            "claim_seq": self.claim_seq,
            "clp01": self.patient_control_number,
            "clp07": self.payer_claim_number,
        }


@dataclass(frozen=True)
class ReviewItem:
    """A claim (not a reversal) where CO-253 stands beside a denial: it must be worked."""

    claim: ClaimRef
    denial_codes: tuple[str, ...]  # sorted GROUP-REASON, e.g. ("CO-50",)
    sequestration_amount: Decimal  # Σ CO-253 on the claim and its lines
    denied_amount: Decimal  # Σ of the denial adjustments

    def to_dict(self) -> dict[str, object]:
        return {
            **self.claim.to_dict(),
            "denial_codes": list(self.denial_codes),
            "sequestration_amount": _dec(self.sequestration_amount),
            "denied_amount": _dec(self.denied_amount),
        }


@dataclass(frozen=True)
class ReversalPair:
    """A reversal (CLP02 22), the original it negates and the correction that follows it."""

    original: ClaimRef
    reversal: ClaimRef
    correction: ClaimRef

    def to_dict(self) -> dict[str, object]:
        return {
            "original": self.original.to_dict(),
            "reversal": self.reversal.to_dict(),
            "correction": self.correction.to_dict(),
        }


@dataclass
class FileTruth:
    """The truth of one file.

    ``review_queue``: claims (not reversals) with a non-zero CO-253 and at least one denial
    adjustment of ``DENIALS``. ``safe_to_close``: claims (not reversals) with a non-zero CO-253
    whose every other adjustment is CO-45 or PR-1/2/3. A reversed original is counted like
    any other claim. The lists are empty when the batch was made with ``keep_claims=False``;
    the counts in ``totals`` are always kept.
    """

    file_name: str
    payer: str
    payer_kind: str
    delimiters: Delimiters
    totals: Totals = field(default_factory=Totals)
    sha256: str = ""
    review_queue: list[ReviewItem] = field(default_factory=list)
    safe_to_close: list[ClaimRef] = field(default_factory=list)
    reversal_pairs: list[ReversalPair] = field(default_factory=list)

    def to_dict(self, claims: bool = True) -> dict[str, object]:
        out: dict[str, object] = {
            "file_name": self.file_name,
            "payer": self.payer,
            "payer_kind": self.payer_kind,
            "sha256": self.sha256,
            "delimiters": self.delimiters.to_dict(),
            "totals": self.totals.to_dict(),
        }
        if claims:
            out["review_queue"] = [item.to_dict() for item in self.review_queue]
            out["safe_to_close"] = [ref.to_dict() for ref in self.safe_to_close]
            out["reversal_pairs"] = [pair.to_dict() for pair in self.reversal_pairs]
        return out


@dataclass
class BatchTruth:
    """The truth of a batch: per-file truth and the totals over all files."""

    seed: int | str
    files: list[FileTruth] = field(default_factory=list)
    totals: Totals = field(default_factory=Totals)

    def add(self, truth: FileTruth) -> None:
        self.files.append(truth)
        self.totals.add(truth.totals)

    @property
    def review_queue(self) -> list[ReviewItem]:
        return [item for f in self.files for item in f.review_queue]

    @property
    def safe_to_close(self) -> list[ClaimRef]:
        return [ref for f in self.files for ref in f.safe_to_close]

    @property
    def reversal_pairs(self) -> list[ReversalPair]:
        return [pair for f in self.files for pair in f.reversal_pairs]

    def to_dict(self, claims: bool = True) -> dict[str, object]:
        """JSON-ready truth; money stays exact as decimal strings."""
        out: dict[str, object] = {
            "generator": "etl.generator",
            "seed": self.seed,
            "totals": self.totals.to_dict(),
            "files": [f.to_dict(claims=False) for f in self.files],
        }
        if claims:
            out["review_queue"] = [item.to_dict() for item in self.review_queue]
            out["safe_to_close"] = [ref.to_dict() for ref in self.safe_to_close]
            out["reversal_pairs"] = [pair.to_dict() for pair in self.reversal_pairs]
        return out


@dataclass
class GeneratedFile:
    """One file in memory: its name, its bytes and its truth."""

    name: str
    content: bytes
    truth: FileTruth


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


@cache
def sequestration_rate(service_date: date) -> Decimal:
    """The CO-253 rate for a date of service, from ``SEQUESTRATION_RATES``."""
    index = bisect.bisect_right(_RATE_STARTS, service_date) - 1
    return SEQUESTRATION_RATES[index][2] if index >= 0 else Decimal(0)


@cache
def _d8(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _money(value: Decimal) -> str:
    """X12 decimal text without needless trailing zeros, as most payers send it."""
    text = str(value)
    if text.endswith(".00"):
        return text[:-3]
    if text.endswith("0") and "." in text:
        return text[:-1]
    return text


def _share(amount: Decimal, percent: int | Decimal) -> Decimal:
    """``percent`` % of ``amount``, rounded half up to the cent."""
    return (amount * percent / HUNDRED).quantize(CENT, ROUND_HALF_UP)


def _cents(rng: random.Random, low: int, high: int) -> Decimal:
    """A random amount between ``low`` and ``high`` dollars, in whole cents."""
    return Decimal(rng.randint(low * 100, high * 100)).scaleb(-2)


def _negate(adjustments: list[Adjustment]) -> list[Adjustment]:
    return [Adjustment(a.group, a.reason, -a.amount, a.quantity) for a in adjustments]


def _cas_groups(adjustments: Sequence[Adjustment]) -> list[tuple[str, list[Adjustment]]]:
    """Adjustments grouped by CAS01 in order of first use, at most six triplets a segment."""
    groups: dict[str, list[Adjustment]] = {}
    for adjustment in adjustments:
        groups.setdefault(adjustment.group, []).append(adjustment)
    out: list[tuple[str, list[Adjustment]]] = []
    for group, items in groups.items():
        for start in range(0, len(items), 6):
            out.append((group, items[start : start + 6]))
    return out


# --------------------------------------------------------------------------------------------
# The builder of one file
# --------------------------------------------------------------------------------------------


class _FileBuilder:
    """Builds, renders and tallies one file, transaction by transaction.

    ``chunks()`` yields the text one interchange header, transaction or trailer at a time, so
    a writer never holds more than one transaction in memory.
    """

    def __init__(
        self,
        seed: int | str,
        index: int,
        payer: Payer,
        *,
        claims: int,
        transactions: int,
        interchanges: int,
        target_bytes: int | None,
        claims_per_transaction: int,
        payment_date: date | None,
        include_scenarios: Sequence[str],
        include_plb: Sequence[str],
        delimiters: Delimiters,
        keep_claims: bool,
        usage_indicator: str,
        replay: bool,
    ) -> None:
        self.rng = random.Random(f"eraflow-835:{seed}:{index}")
        self.index = index
        # The envelope's control numbers (ISA13, GS06) lead with three digits of the seed,
        # taken from a hash rather than from the draws (which stay as they were), so that
        # files of different seeds with the same index are not the same payment by
        # envelope (ISA06 + ISA13 + ST02) to the loader's duplicate check.
        digest = hashlib.sha256(f"eraflow-835-envelope:{seed}".encode()).digest()
        self.control_base = (int.from_bytes(digest[:4], "big") % 1000) * 1_000_000
        self.payer = payer
        self.payee = self.rng.choice(HOSPITALS if payer.kind == "medicare_a" else CLINICS)
        self.name = f"era_{payer.key}_{index + 1:04d}.835"
        self.claims = claims
        self.transactions = max(1, transactions)
        self.interchanges = (
            max(1, min(interchanges, self.transactions))
            if not target_bytes
            else max(1, interchanges)
        )
        self.target_bytes = target_bytes
        self.claims_per_transaction = max(1, claims_per_transaction)
        self.first_payment_date = payment_date or self._payment_date()
        self.forced = list(include_scenarios)
        self.forced_plb = list(include_plb)
        self.d = delimiters
        self.end = delimiters.segment + delimiters.line_break
        self.keep_claims = keep_claims
        self.usage_indicator = usage_indicator
        self.truth = FileTruth(self.name, payer.key, payer.kind, delimiters)
        self.trace_prefix = f"{self.rng.randint(100, 999)}{index + 1:05d}"
        self.pcn_prefix = f"TPCN{index + 1:04d}"
        self.icn_prefix = f"{payer.icn_prefix}{index + 1:04d}"

        self.claim_counter = 0
        self.transaction_seq = 0
        self.bytes_written = 0
        self.candidates: list[Claim] = []  # paid claims of earlier transactions
        self.pending: list[Claim] = []  # this transaction's claims, candidates once it closes
        self.recent_numbers: list[str] = []  # CLP07s a WO can recoup
        self.pairs: list[tuple[Claim, Claim, Claim]] = []  # this transaction's reversals
        self.scenario_names = [name for name, _ in payer.scenarios]
        self.scenario_weights: list[int] = []
        for _, weight in payer.scenarios:
            self.scenario_weights.append(weight + (self.scenario_weights or [0])[-1])
        self.replay = replay
        self.pool: list[_Template] = []

    # ---- the file ---------------------------------------------------------------------------

    def chunks(self) -> Iterator[str]:
        """The file's text, piece by piece; the truth is complete once this is exhausted."""
        hasher = hashlib.sha256()
        totals = self.truth.totals
        totals.file_count = 1
        plan = self._transaction_plan()
        if self.replay:
            self._fill_pool(self.first_payment_date)
        for isa_no in range(self.interchanges):
            control = self.control_base + ((self.index + 1) % 1000) * 1000 + isa_no % 999 + 1
            isa13 = f"{control:09d}"
            gs06 = str(control)
            chunk = self._interchange_header(isa13, gs06)
            yield self._emit(chunk, hasher)
            count = 0
            while self._more_transactions(isa_no, count):
                count += 1
                chunk = self._transaction(f"{count:04d}", self._claims_for(plan))
                yield self._emit(chunk, hasher)
            yield self._emit(self._interchange_trailer(isa13, gs06, count), hasher)
            totals.interchange_count += 1
            totals.group_count += 1
            totals.segment_count += 4
        for template in self.pool:
            self._retire(template)
        self.truth.sha256 = hasher.hexdigest()
        totals.byte_count = self.bytes_written

    def _emit(self, chunk: str, hasher: object) -> str:
        self.bytes_written += len(chunk)
        hasher.update(chunk.encode("ascii"))  # type: ignore[attr-defined]
        return chunk

    def _transaction_plan(self) -> list[int]:
        """Claims per transaction in count mode; an empty list means "fill to target_bytes"."""
        if self.target_bytes:
            return []
        base, extra = divmod(max(self.claims, self.transactions), self.transactions)
        return [base + (1 if n < extra else 0) for n in range(self.transactions)]

    def _more_transactions(self, isa_no: int, count: int) -> bool:
        if self.target_bytes:
            share = self.target_bytes * (isa_no + 1) / self.interchanges
            return count == 0 or self.bytes_written < share
        per_isa, extra = divmod(self.transactions, self.interchanges)
        return count < per_isa + (1 if isa_no < extra else 0)

    def _claims_for(self, plan: list[int]) -> int:
        if not plan:
            return self.claims_per_transaction
        return plan[self.transaction_seq] if self.transaction_seq < len(plan) else 1

    def _payment_date(self) -> date:
        """Mostly recent payments, some in every sequestration period and across boundaries."""
        era = self.rng.random()
        if era < 0.05:
            first, last = date(2012, 10, 1), date(2013, 8, 31)
        elif era < 0.17:
            first, last = date(2013, 9, 1), date(2020, 3, 31)
        elif era < 0.30:
            first, last = date(2020, 4, 1), date(2022, 10, 31)
        else:
            first, last = date(2022, 11, 1), date(2025, 12, 31)
        return first + timedelta(days=self.rng.randint(0, (last - first).days))

    # ---- envelope ---------------------------------------------------------------------------

    def seg(self, *elements: str) -> str:
        """One segment; trailing empty elements are dropped as X12 requires."""
        n = len(elements)
        while n > 1 and not elements[n - 1]:
            n -= 1
        return self.d.element.join(elements[:n]) + self.end

    def _interchange_header(self, isa13: str, gs06: str) -> str:
        """ISA (fixed width, 106 characters with its terminator) and GS."""
        day = self.first_payment_date - timedelta(days=1)
        hhmm = f"{self.rng.randint(0, 23):02d}{self.rng.randint(0, 59):02d}"
        sender = f"TEST{self.payer.key.upper()}"
        receiver = f"TESTPAYEE{self.payee.npi[-4:]}"
        # fmt: off
        isa = (  # ISA01-16 at their fixed widths: the segment is always 106 characters
            "ISA", "00", " " * 10, "00", " " * 10,  # no authorization, no security
            "ZZ", f"{sender:<15}", "ZZ", f"{receiver:<15}",
            _d8(day)[2:], hhmm, self.d.repetition, "00501", isa13, "0", self.usage_indicator,
            self.d.component,
        )
        # fmt: on
        isa_text = self.d.element.join(isa) + self.end
        gs = self.seg("GS", "HP", sender, receiver, _d8(day), hhmm, gs06, "X", "005010X221A1")
        return isa_text + gs

    def _interchange_trailer(self, isa13: str, gs06: str, transactions: int) -> str:
        """GE (transaction count) and IEA (one group per interchange)."""
        return self.seg("GE", str(transactions), gs06) + self.seg("IEA", "1", isa13)

    # ---- transaction ------------------------------------------------------------------------

    def _transaction(self, st02: str, n_claims: int) -> str:
        """One ST…SE: one payment, its claims and its PLB, balanced to the cent."""
        self.transaction_seq += 1
        payment_date = self.first_payment_date + timedelta(days=self.transaction_seq - 1)
        trace = f"{self.trace_prefix}{self.transaction_seq:04d}"
        claims, paid_total = self._claims(n_claims, payment_date)
        plb = self._plb_pairs(paid_total, claims, trace)
        plb_total = sum((amount for _, _, amount in plb), ZERO)
        bpr02 = paid_total - plb_total

        segments = [self.seg("ST", "835", st02, "005010X221A1")]
        self._header(segments, bpr02, trace, payment_date)
        self._payer_loop(segments)
        self._payee_loop(segments)
        replayed = 0  # segments inside replayed chunks beyond the one list entry each takes
        for position, claim in enumerate(claims):
            if position % 100 == 0:
                segments.append(self.seg("LX", str(position // 100 + 1)))
            if isinstance(claim, _Replay):
                segments.append(
                    claim.template.text
                    % {
                        "p": claim.patient_control_number,
                        "i": claim.payer_claim_number,
                        "n": claim.patient,
                    }
                )
                replayed += claim.template.segments - 1
            else:
                self._claim_loop(segments, claim)
        if plb:
            self._plb(segments, plb, payment_date)
        count = len(segments) + replayed + 1
        segments.append(self.seg("SE", str(count), st02))

        totals = self.truth.totals
        totals.transaction_count += 1
        totals.segment_count += count
        totals.sum_bpr02 += bpr02
        totals.sum_plb += plb_total
        totals.plb_pair_count += len(plb)
        self._close_candidates()
        return "".join(segments)

    def _close_candidates(self) -> None:
        """This transaction's paid claims may be reversed by a later one; keep at most 64, so
        that memory stays flat however large the file."""
        for claim in self.pending:
            if len(self.candidates) < 64:
                self.candidates.append(claim)
            else:
                self.candidates[self.rng.randrange(64)] = claim
        self.pending = []

    def _header(self, out: list[str], bpr02: Decimal, trace: str, payment_date: date) -> None:
        """BPR (payment), TRN (trace) and DTM*405 (production date)."""
        paid = _money(bpr02)
        when = _d8(payment_date)
        if bpr02 == 0:
            out.append(self.seg("BPR", "H", paid, "C", "NON", *([""] * 11), when))
        elif self.rng.random() < 0.2:
            out.append(self.seg("BPR", "C", paid, "C", "CHK", *([""] * 11), when))
        else:
            # fmt: off
            out.append(self.seg(  # ACH: CCP format, payer's then payee's bank and account
                "BPR", "I", paid, "C", "ACH", "CCP",
                "01", "999999992", "DA", "900000001", self.payer.trace_id, "",
                "01", "999999991", "DA", f"8{self.payee.tax_id}", when,
            ))
            # fmt: on
        out.append(self.seg("TRN", "1", trace, self.payer.trace_id))
        out.append(self.seg("DTM", "405", _d8(payment_date - timedelta(days=2))))

    def _payer_loop(self, out: list[str]) -> None:
        """1000A: N1*PR with the payer id, address and a fictional phone number."""
        out.append(self.seg("N1", "PR", self.payer.name, "XV", self.payer.payer_id))
        out.append(self.seg("N3", "PO BOX 1000"))
        out.append(self.seg("N4", "TESTVILLE", "MD", "21000"))
        out.append(self.seg("PER", "BL", "TEST PROVIDER SERVICES", "TE", "8005550100"))

    def _payee_loop(self, out: list[str]) -> None:
        """1000B: N1*PE with the payee NPI (XX) and its tax id."""
        out.append(self.seg("N1", "PE", self.payee.name, "XX", self.payee.npi))
        out.append(self.seg("N3", "100 TEST AVENUE"))
        out.append(self.seg("N4", "TESTVILLE", "MD", "21001"))
        out.append(self.seg("REF", "TJ", self.payee.tax_id))

    def _plb_pairs(
        self, paid_total: Decimal, claims: Sequence[Claim | _Replay], trace: str
    ) -> list[tuple[str, str, Decimal]]:
        """PLB reason/reference/amount pairs; a negative net is forwarded with FB.

        WO recoups an earlier claim (positive), L6 pays interest on a claim of this payment
        (negative), a positive FB applies a balance forwarded by an earlier remittance, and a
        negative FB carries this payment's negative net forward so that BPR02 is never < 0.
        """
        rng = self.rng
        forced = self.forced_plb if self.transaction_seq == 1 else []
        pairs: list[tuple[str, str, Decimal]] = []
        if "WO" in forced or rng.random() < 0.25:
            reference = (
                rng.choice(self.recent_numbers)
                if self.recent_numbers
                else f"{self.payer.icn_prefix}00{rng.randint(10**9, 10**10 - 1)}"
            )
            pairs.append(("WO", reference, _cents(rng, 20, 400)))
        if claims and ("L6" in forced or rng.random() < 0.2):
            pairs.append(("L6", rng.choice(claims).payer_claim_number, -_cents(rng, 1, 25)))
        net = paid_total - sum((amount for _, _, amount in pairs), ZERO)
        if net > 100 and ("FB" in forced or rng.random() < 0.06):
            applied = _share(net, rng.randint(5, 40))
            pairs.append(("FB", f"{self.trace_prefix}0000", applied))
            net -= applied
        if net < 0:
            pairs.append(("FB", trace, net))
        return pairs

    def _plb(self, out: list[str], pairs: list[tuple[str, str, Decimal]], day: date) -> None:
        """PLB segments, at most six pairs each, for the payee NPI and fiscal year end."""
        c = self.d.component
        for start in range(0, len(pairs), 6):
            elements = [self.payee.npi, f"{day.year}1231"]
            for reason, reference, amount in pairs[start : start + 6]:
                elements += [f"{reason}{c}{reference}", _money(amount)]
            out.append(self.seg("PLB", *elements))

    # ---- claims -----------------------------------------------------------------------------

    def _claims(self, n_claims: int, payment_date: date) -> tuple[list[Claim | _Replay], Decimal]:
        """The claims of one transaction and their Σ CLP04, tallied as they are made.

        In replay mode most claims are replays of the pool; a few are fresh (and refresh the
        pool), and reversals are always fresh because they need a real original.
        """
        claims: list[Claim | _Replay] = []
        paid = ZERO
        transaction_seq = self.transaction_seq
        while len(claims) < n_claims:
            if self.pool and not self.forced and self.rng.random() >= FRESH_SHARE:
                replay = self._replay()
                claims.append(replay)
                facts = replay.template.facts
                paid += facts.clp04
                # replays are counted when their template retires; only the lists need refs
                if self.keep_claims and (facts.review or facts.safe):
                    self._list(
                        facts,
                        transaction_seq,
                        len(claims),
                        replay.patient_control_number,
                        replay.payer_claim_number,
                    )
                continue
            scenario = self.forced.pop(0) if self.forced else self._draw_scenario()
            if scenario == "reversal" and (not self.candidates or n_claims - len(claims) < 2):
                scenario = "inpatient" if self.payer.kind == "medicare_a" else "routine"
            if scenario == "reversal":
                made = self._reversal_and_correction(payment_date)
            else:
                made = [self._scenario(scenario, payment_date)]
                if self.pool:
                    self._refresh_pool(made[0])
            for claim in made:
                claims.append(claim)
                paid += claim.paid
                claim.transaction_seq = transaction_seq
                claim.claim_seq = len(claims)
                self._tally(claim)
        self._record_pairs()
        return claims, paid

    def _draw_scenario(self) -> str:
        return self.rng.choices(self.scenario_names, cum_weights=self.scenario_weights)[0]

    def _replay(self) -> _Replay:
        """A pool claim under a fresh CLP01, CLP07 and patient."""
        random = self.rng.random  # randint is ten times slower, and this runs per claim
        template = self.pool[int(random() * POOL_SIZE)]
        template.uses += 1
        clp01, clp07 = self._next_numbers()
        return _Replay(template, clp01, clp07, f"{int(random() * 9999) + 1:04d}")

    def _template(self, claim: Claim) -> _Template:
        """Render a claim once and turn its identifiers into ``%`` fields."""
        out: list[str] = []
        self._claim_loop(out, claim)
        patient = f"{claim.patient:04d}"
        text = "".join(out).replace("%", "%%")
        text = text.replace(claim.patient_control_number, "%(p)s")
        text = text.replace(claim.payer_claim_number, "%(i)s")
        text = text.replace(f"TESTPATIENT{patient}", "TESTPATIENT%(n)s")
        text = text.replace(f"ZZ00{patient}", "ZZ00%(n)s")
        return _Template(text, len(out), _facts(claim))

    def _fill_pool(self, payment_date: date) -> None:
        """Price ``POOL_SIZE`` claims of the payer's mix to replay (never reversals)."""
        while len(self.pool) < POOL_SIZE:
            scenario = self._draw_scenario()
            if scenario != "reversal":
                self.pool.append(self._template(self._scenario(scenario, payment_date)))

    def _refresh_pool(self, claim: Claim) -> None:
        """A fresh claim replaces a random template, whose replays are added to the truth."""
        slot = self.rng.randrange(len(self.pool))
        self._retire(self.pool[slot])
        self.pool[slot] = self._template(claim)

    def _retire(self, template: _Template) -> None:
        if template.uses:
            self._add_facts(template.facts, template.uses)
            template.uses = 0

    def _record_pairs(self) -> None:
        """Reversal pairs become refs once their transaction's claims are numbered."""
        if self.keep_claims:
            for original, reversal, correction in self.pairs:
                self.truth.reversal_pairs.append(
                    ReversalPair(self._ref(original), self._ref(reversal), self._ref(correction))
                )
        self.pairs = []

    def _ref(self, claim: Claim) -> ClaimRef:
        return ClaimRef(
            self.name,
            claim.transaction_seq,
            claim.claim_seq,
            claim.patient_control_number,
            claim.payer_claim_number,
        )

    def _scenario(self, scenario: str, payment_date: date) -> Claim:
        """Build one claim of the named scenario (see ``Payer.scenarios``)."""
        if scenario.startswith("inpatient"):
            return self._inpatient_claim(scenario, payment_date)
        builder = {
            "routine": self._routine_lines,
            "forwarded": self._routine_lines,
            "secondary": self._routine_lines,
            "tertiary": self._routine_lines,
            "denied_line": self._denied_line_lines,
            "denied_claim": self._denied_claim_lines,
            "anesthesia": self._anesthesia_lines,
            "psychotherapy": self._psychotherapy_lines,
            "angioplasty": self._angioplasty_lines,
            "knee_global": self._knee_global_lines,
        }[scenario]
        first_date = self._service_date(payment_date)
        return self._professional_claim(scenario, builder(first_date), payment_date)

    def _next_numbers(self) -> tuple[str, str]:
        """A fresh CLP01 and CLP07, unique in the batch."""
        self.claim_counter += 1
        n = self.claim_counter
        return f"{self.pcn_prefix}{n:06d}", f"{self.icn_prefix}{n:07d}"

    def _service_date(self, payment_date: date) -> date:
        """Most services are weeks old when paid; a few are reprocessed after years."""
        if self.rng.random() < 0.06:
            return payment_date - timedelta(days=self.rng.randint(91, 1500))
        return payment_date - timedelta(days=self.rng.randint(10, 90))

    def _line(
        self,
        code: str,
        day: date,
        modifiers: tuple[str, ...] = (),
        units: int = 1,
        outcome: str = "pay",
        denial: str | None = None,
    ) -> LineRecipe:
        low, high = CHARGES[code]
        charge = _cents(self.rng, low, high) * units
        return LineRecipe(code, modifiers, units, day, charge, outcome, denial)

    # ---- line recipes, one function per scenario --------------------------------------------

    def _routine_lines(self, day: date) -> list[LineRecipe]:
        """A visit and zero to three extra services, on the same day or the days after."""
        rng = self.rng
        visit = rng.choice(VISITS)
        extras = rng.sample(EXTRAS, k=rng.choice((0, 0, 1, 1, 2, 3)))
        procedure = any(code == "20610" for code, _, _ in extras)
        modifiers = ("25",) if procedure and visit in EVALUATION_CODES else ()
        lines = [self._line(visit, day, modifiers)]
        for code, extra_modifiers, most_units in extras:
            on = day + timedelta(days=rng.choice((0, 0, 0, 1, 2)))
            lines.append(self._line(code, on, extra_modifiers, rng.randint(1, most_units)))
        return lines

    def _denied_line_lines(self, day: date) -> list[LineRecipe]:
        """Routine lines plus one denied line: where Medicare pays, CO-253 stands beside it."""
        lines = self._routine_lines(day)
        code, modifiers, most_units = self.rng.choice(EXTRAS)
        reason = self.rng.choice(self.payer.line_denials)
        units = self.rng.randint(1, most_units)
        lines.append(self._line(code, day, modifiers, units, "deny", reason))
        return lines

    def _denied_claim_lines(self, day: date) -> list[LineRecipe]:
        """Every line denied for the same reason (CLP02 4)."""
        reason = self.rng.choice(self.payer.claim_denials)
        lines = self._routine_lines(day)
        for line in lines:
            line.outcome, line.denial = "deny", reason
        return lines

    def _anesthesia_lines(self, day: date) -> list[LineRecipe]:
        """Medical direction: the anesthesiologist's QK line is paid, the QX line is denied
        for its modifier (CARC 4)."""
        units = self.rng.randint(6, 12)
        return [
            self._line("00142", day, ("QK",), units),
            self._line("00142", day, ("QX",), units, "deny", "4"),
        ]

    def _psychotherapy_lines(self, day: date) -> list[LineRecipe]:
        """A second 60-minute psychotherapy session the same week exceeds the frequency limit."""
        return [
            self._line("90837", day),
            self._line("90837", day + timedelta(days=2), outcome="deny", denial="151"),
        ]

    def _angioplasty_lines(self, day: date) -> list[LineRecipe]:
        """The catheterization is paid; the stent is denied as not medically necessary."""
        return [
            self._line("93458", day),
            self._line("92928", day, ("RC",), outcome="deny", denial="50"),
        ]

    def _knee_global_lines(self, day: date) -> list[LineRecipe]:
        """A visit within the 90-day global period of a knee arthroplasty (27447), without
        modifier 24 or 79, is bundled (CO-97); the no-charge post-op code and the x-ray are not.
        """
        return [
            self._line("99024", day, outcome="zero"),
            self._line("99213", day, outcome="deny", denial="97"),
            self._line("73562", day, ("RT",)),
        ]

    # ---- pricing ----------------------------------------------------------------------------

    def _professional_claim(
        self, scenario: str, recipes: list[LineRecipe], payment_date: date, status: str = ""
    ) -> Claim:
        """Price the lines, then sum them into the claim (CLP03, CLP04, CLP05)."""
        rng = self.rng
        clp01, clp07 = self._next_numbers()
        if not status:
            status = {"forwarded": "19", "secondary": "2", "tertiary": "3"}.get(scenario, "1")
            if scenario == "denied_claim":
                status = "4"
        secondary = status in ("2", "3")
        sequestered = self.payer.kind == "medicare_b" or (
            self.payer.kind == "medicare_advantage" and rng.random() < 0.4
        )
        lines = []
        for number, recipe in enumerate(recipes, start=1):
            if secondary and recipe.outcome == "pay":
                recipe.outcome = "secondary"
            lines.append(self._price_line(recipe, f"{clp01}-{number}", sequestered))

        claim = Claim(
            scenario=scenario,
            patient_control_number=clp01,
            status=status,
            charge=sum((line.charge for line in lines), ZERO),
            paid=sum((line.paid for line in lines), ZERO),
            patient_responsibility=ZERO,
            filing_indicator=rng.choice(self.payer.filing_indicators),
            payer_claim_number=clp07,
            patient=rng.randint(1, 9999),
            received=min(r.service_date for r in recipes) + timedelta(days=rng.randint(1, 5)),
            lines=lines,
            rendering=rng.choice(RENDERING_NPIS) if rng.random() < 0.7 else None,
        )
        claim.patient_responsibility = sum(
            (a.amount for a in claim.all_adjustments() if a.group == "PR"), ZERO
        )
        if self.payer.kind == "medicare_b":
            claim.remarks = ("MA18",) if status == "19" else ("MA01",)
        if claim.received >= payment_date:
            claim.received = payment_date - timedelta(days=1)
        return claim

    def _price_line(self, recipe: LineRecipe, control: str, sequestered: bool) -> ServiceLine:
        """Decide one line; its adjustments always sum to SVC02 − SVC03."""
        charge = recipe.charge
        if recipe.outcome == "zero":
            return ServiceLine(recipe, charge, ZERO, ZERO, [], control)
        if recipe.outcome == "deny":
            reason = recipe.denial or "16"
            quantity = recipe.units if reason == "151" else None
            remark = DENIAL_REMARKS.get(reason)
            return ServiceLine(
                recipe,
                charge,
                ZERO,
                ZERO,
                [Adjustment("CO", reason, charge, quantity)],
                control,
                (remark,) if remark else (),
            )
        if recipe.outcome == "secondary":
            return self._price_secondary_line(recipe, control)

        rng = self.rng
        allowed = _share(charge, rng.randint(35, 85))
        cost_share = self._cost_share(recipe.code, allowed)
        before_cut = allowed - sum((a.amount for a in cost_share), ZERO)
        cut = ZERO
        if sequestered:
            cut = (before_cut * sequestration_rate(recipe.service_date)).quantize(
                CENT, ROUND_HALF_UP
            )
        adjustments = []
        if charge > allowed:
            adjustments.append(Adjustment("CO", "45", charge - allowed))
        if cut:
            adjustments.append(Adjustment("CO", "253", cut))
        adjustments.extend(cost_share)
        return ServiceLine(recipe, charge, before_cut - cut, allowed, adjustments, control)

    def _cost_share(self, code: str, allowed: Decimal) -> list[Adjustment]:
        """Deductible (PR-1), coinsurance (PR-2) and copay (PR-3) by program.

        A deductible never leaves less than a dollar to pay: it takes all of it instead, so a
        paid Medicare line always has a payment large enough to show its CO-253.
        """
        rng = self.rng
        kind = self.payer.kind
        out: list[Adjustment] = []
        remaining = allowed
        if kind == "medicare_b" and code in NO_MEDICARE_COST_SHARE:
            return out
        if kind == "medicaid":
            if rng.random() < 0.3 and allowed > 10:
                out.append(Adjustment("PR", "3", _cents(rng, 1, 4)))
            return out
        if (
            kind in ("commercial", "medicare_advantage")
            and code in EVALUATION_CODES
            and rng.random() < 0.6
        ):
            copay = Decimal(rng.choice((10, 20, 30, 40)))
            copay = min(copay, remaining - 1) if remaining > 2 else ZERO
            if copay > 0:
                out.append(Adjustment("PR", "3", copay.quantize(CENT)))
            return out
        if rng.random() < (0.12 if kind == "medicare_b" else 0.2):
            deductible = min(_cents(rng, 20, 240), remaining)
            if remaining - deductible < 1:
                deductible = remaining
            out.append(Adjustment("PR", "1", deductible))
            remaining -= deductible
        if remaining > 0:
            percent = 20 if kind in ("medicare_b", "medicare_advantage") else rng.randint(10, 30)
            coinsurance = _share(remaining, percent)
            if coinsurance:
                out.append(Adjustment("PR", "2", coinsurance))
        return out

    def _price_secondary_line(self, recipe: LineRecipe, control: str) -> ServiceLine:
        """A secondary or tertiary line: OA-23 for what the prior payer settled, then part of
        the remainder paid; Medicaid writes the rest off (CO-45), a commercial plan may leave
        it to the patient (PR-2)."""
        rng = self.rng
        charge = recipe.charge
        remainder = _share(charge, rng.randint(10, 25))
        paid = _share(remainder, rng.randint(60, 100))
        adjustments = [Adjustment("OA", "23", charge - remainder)]
        if remainder > paid:
            group, reason = (
                ("CO", "45")
                if self.payer.kind == "medicaid"
                else rng.choice((("CO", "45"), ("PR", "2")))
            )
            adjustments.append(Adjustment(group, reason, remainder - paid))
        return ServiceLine(recipe, charge, paid, remainder, adjustments, control)

    def _inpatient_claim(self, scenario: str, payment_date: date) -> Claim:
        """A Part A inpatient stay: no service lines, everything at claim level, CO-253 at the
        rate of the "through" date (DTM*233)."""
        rng = self.rng
        through = self._service_date(payment_date)
        stay = rng.randint(1, 12)
        clp01, clp07 = self._next_numbers()
        charge = _cents(rng, 6000, 80000)
        claim = Claim(
            scenario=scenario,
            patient_control_number=clp01,
            status="19" if scenario == "inpatient_forwarded" else "1",
            charge=charge,
            paid=ZERO,
            patient_responsibility=ZERO,
            filing_indicator="MA",
            payer_claim_number=clp07,
            patient=rng.randint(1, 9999),
            received=min(through + timedelta(days=rng.randint(1, 6)), payment_date),
            statement_from=through - timedelta(days=stay),
            statement_through=through,
            drg=rng.choice(DRGS),
            covered_days=stay,
        )
        if scenario == "inpatient_denied":
            claim.status = "4"
            claim.adjustments = [Adjustment("CO", rng.choice(self.payer.claim_denials), charge)]
            claim.covered_days = 0
            return claim
        self._price_stay(claim, partial_denial=scenario == "inpatient_partial_denial")
        if claim.status == "19":
            claim.remarks = ("MA18",)
        return claim

    def _price_stay(self, claim: Claim, partial_denial: bool) -> None:
        """Claim-level pricing of a stay: denied days (CO-50 with the days as quantity), the
        DRG allowance (CO-45), the inpatient deductible (PR-1) and CO-253 on what remains."""
        rng = self.rng
        assert claim.statement_through is not None and claim.covered_days is not None
        covered_charge = claim.charge
        co: list[Adjustment] = []
        if partial_denial and claim.covered_days > 1:
            days = rng.randint(1, claim.covered_days - 1)
            # the denied days' share of the charge, in whole cents by integer arithmetic
            denied = Decimal(int(claim.charge * 100) * days // claim.covered_days).scaleb(-2)
            co.append(Adjustment("CO", "50", denied, days))
            covered_charge -= denied
            claim.covered_days -= days
        allowed = _share(covered_charge, rng.randint(25, 60))
        co.append(Adjustment("CO", "45", covered_charge - allowed))
        pr: list[Adjustment] = []
        if rng.random() < 0.45:
            year = claim.statement_through.year
            deductible = Decimal(PART_A_DEDUCTIBLE.get(year, 1156 if year < 2012 else 1676))
            deductible = min(deductible.quantize(CENT), allowed)
            if allowed - deductible < 1:  # as in _cost_share: never a payment too small to cut
                deductible = allowed
            pr.append(Adjustment("PR", "1", deductible))
        before_cut = allowed - sum((a.amount for a in pr), ZERO)
        cut = (before_cut * sequestration_rate(claim.statement_through)).quantize(
            CENT, ROUND_HALF_UP
        )
        if cut:
            co.append(Adjustment("CO", "253", cut))
        claim.adjustments = co + pr
        claim.paid = before_cut - cut
        claim.patient_responsibility = sum((a.amount for a in pr), ZERO)

    # ---- reversals --------------------------------------------------------------------------

    def _reversal_and_correction(self, payment_date: date) -> list[Claim]:
        """A CLP02 22 claim negating an earlier paid claim, then the corrected claim."""
        original = self.candidates.pop(self.rng.randrange(len(self.candidates)))
        reversal = Claim(
            scenario="reversal",
            patient_control_number=original.patient_control_number,
            status="22",
            charge=-original.charge,
            paid=-original.paid,
            patient_responsibility=-original.patient_responsibility,
            filing_indicator=original.filing_indicator,
            payer_claim_number=original.payer_claim_number,
            patient=original.patient,
            received=original.received,
            lines=[
                ServiceLine(
                    line.recipe,
                    -line.charge,
                    -line.paid,
                    -line.allowed,
                    _negate(line.adjustments),
                    line.control_number,
                    line.remarks,
                )
                for line in original.lines
            ],
            adjustments=_negate(original.adjustments),
            statement_from=original.statement_from,
            statement_through=original.statement_through,
            drg=original.drg,
            covered_days=original.covered_days,
            rendering=original.rendering,
            remarks=original.remarks,
        )
        correction = self._correction(original, payment_date)
        self.pairs.append((original, reversal, correction))
        return [reversal, correction]

    def _correction(self, original: Claim, payment_date: date) -> Claim:
        """The corrected claim: the same bill priced again with adjusted charges, a new CLP07
        and REF*F8 pointing at the original's CLP07."""
        rng = self.rng
        if original.lines:
            recipes = []
            for line in original.lines:
                r = line.recipe
                charge = _share(r.charge, rng.randint(100, 125))
                recipes.append(
                    LineRecipe(r.code, r.modifiers, r.units, r.service_date, charge, "pay", None)
                )
            claim = self._professional_claim("correction", recipes, payment_date, status="1")
        else:
            claim = self._inpatient_claim("inpatient", payment_date)
            claim.statement_from = original.statement_from
            claim.statement_through = original.statement_through
            claim.covered_days = original.covered_days
            claim.charge = _share(original.charge, rng.randint(100, 125))
            self._price_stay(claim, partial_denial=False)
            claim.status = "1"
            claim.remarks = ()
        claim.scenario = "correction"
        claim.patient_control_number = original.patient_control_number
        claim.patient = original.patient
        claim.original_reference = original.payer_claim_number
        claim.received = payment_date - timedelta(days=rng.randint(1, 5))
        return claim

    # ---- claim rendering --------------------------------------------------------------------

    def _claim_loop(self, out: list[str], claim: Claim) -> None:
        """2100: CLP, claim CAS, NM1 patient and rendering, MIA/MOA, REF*F8, DTMs, lines."""
        seg = self.seg
        out.append(
            seg(
                "CLP",
                claim.patient_control_number,
                claim.status,
                _money(claim.charge),
                _money(claim.paid),
                _money(claim.patient_responsibility) if claim.patient_responsibility else "",
                claim.filing_indicator,
                claim.payer_claim_number,
                "11",
                "1",
                "",
                claim.drg or "",
            )
        )
        self._cas(out, claim.adjustments)
        patient = f"{claim.patient:04d}"
        out.append(
            seg(
                "NM1",
                "QC",
                "1",
                f"TESTPATIENT{patient}",
                FIRST_NAMES[claim.patient % 8],
                "",
                "",
                "",
                "MI",
                f"ZZ00{patient}",
            )
        )
        if claim.rendering:
            out.append(
                seg("NM1", "82", "1", "TESTPROVIDER", "DR", "", "", "", "XX", claim.rendering)
            )
        if claim.covered_days is not None:
            out.append(seg("MIA", str(claim.covered_days), "", "", "", *claim.remarks[:1]))
        elif claim.remarks:
            out.append(seg("MOA", "", "", *claim.remarks[:5]))
        if claim.original_reference:
            out.append(seg("REF", "F8", claim.original_reference))
        if claim.statement_from:
            assert claim.statement_through is not None
            out.append(seg("DTM", "232", _d8(claim.statement_from)))
            out.append(seg("DTM", "233", _d8(claim.statement_through)))
        out.append(seg("DTM", "050", _d8(claim.received)))
        for line in claim.lines:
            self._line_loop(out, line)

    def _line_loop(self, out: list[str], line: ServiceLine) -> None:
        """2110: SVC, DTM*472, CAS, REF*6R, AMT*B6 and LQ remark codes."""
        seg = self.seg
        recipe = line.recipe
        procedure = self.d.component.join(("HC", recipe.code, *recipe.modifiers))
        out.append(
            seg("SVC", procedure, _money(line.charge), _money(line.paid), "", str(recipe.units))
        )
        out.append(seg("DTM", "472", _d8(recipe.service_date)))
        self._cas(out, line.adjustments)
        out.append(seg("REF", "6R", line.control_number))
        out.append(seg("AMT", "B6", _money(line.allowed)))
        for remark in line.remarks:
            out.append(seg("LQ", "HE", remark))

    def _cas(self, out: list[str], adjustments: Sequence[Adjustment]) -> None:
        """CAS segments: one per group code, several triplets each (CAS*CO*45*20**253*1.6)."""
        for group, items in _cas_groups(adjustments):
            elements = [group]
            for a in items:
                elements += [
                    a.reason,
                    _money(a.amount),
                    "" if a.quantity is None else str(a.quantity),
                ]
            out.append(self.seg("CAS", *elements))

    # ---- truth ------------------------------------------------------------------------------

    def _tally(self, claim: Claim) -> None:
        """Add a fresh claim to the file's truth, from the claim object (never from the text),
        and offer it as an original that a later transaction may reverse."""
        facts = _facts(claim)
        self._add_facts(facts, 1)
        if facts.reversal:
            return
        if claim.scenario in REVERSIBLE and claim.paid > 0:
            self.pending.append(claim)
            if len(self.recent_numbers) < 50:
                self.recent_numbers.append(claim.payer_claim_number)
        if self.keep_claims:
            self._list(
                facts,
                claim.transaction_seq,
                claim.claim_seq,
                claim.patient_control_number,
                claim.payer_claim_number,
            )

    def _list(
        self, facts: _Facts, transaction_seq: int, claim_seq: int, clp01: str, clp07: str
    ) -> None:
        """Put a claim in the review queue or the safe-to-close list, as its facts say."""
        if facts.review:
            ref = ClaimRef(self.name, transaction_seq, claim_seq, clp01, clp07)
            self.truth.review_queue.append(
                ReviewItem(ref, facts.denial_codes, facts.co253, facts.denied)
            )
        elif facts.safe:
            ref = ClaimRef(self.name, transaction_seq, claim_seq, clp01, clp07)
            self.truth.safe_to_close.append(ref)

    def _add_facts(self, facts: _Facts, times: int) -> None:
        """Add ``times`` claims with these facts to the totals (a replayed template at once)."""
        totals = self.truth.totals
        totals.claim_count += times
        totals.service_line_count += facts.lines * times
        totals.cas_triplet_count += facts.triplets * times
        totals.sum_clp03 += facts.clp03 * times
        totals.sum_clp04 += facts.clp04 * times
        totals.sum_clp05 += facts.clp05 * times
        totals.sum_svc02 += facts.svc02 * times
        totals.sum_svc03 += facts.svc03 * times
        totals.sum_cas += facts.cas * times
        totals.sum_co253 += facts.co253 * times
        totals.review_queue_count += times if facts.review else 0
        totals.safe_to_close_count += times if facts.safe else 0
        if facts.reversal:
            totals.reversal_count += times
        else:
            totals.sum_co253_excluding_reversals += facts.co253 * times


REVERSIBLE = frozenset({"routine", "forwarded", "inpatient", "inpatient_forwarded"})


@dataclass(slots=True)
class _Facts:
    """What a claim adds to the truth, worked out once from the claim object."""

    lines: int
    triplets: int
    clp03: Decimal
    clp04: Decimal
    clp05: Decimal
    svc02: Decimal
    svc03: Decimal
    cas: Decimal
    co253: Decimal
    denied: Decimal
    denial_codes: tuple[str, ...]
    reversal: bool
    review: bool  # not a reversal, CO-253 beside a denial
    safe: bool  # not a reversal, CO-253 and nothing but CO-45 and PR-1/2/3 beside it


def _facts(claim: Claim) -> _Facts:
    cut = ZERO
    denied = ZERO
    cas = ZERO
    triplets = 0
    denial_codes: set[str] = set()
    other = False
    for a in claim.all_adjustments():
        triplets += 1
        cas += a.amount
        pair = (a.group, a.reason)
        if pair == SEQUESTRATION:
            cut += a.amount
        elif pair in DENIALS:
            denied += a.amount
            denial_codes.add(f"{a.group}-{a.reason}")
        elif pair != CONTRACTUAL and pair not in COST_SHARE:
            other = True
    reversal = claim.status == "22"
    sequestered = bool(cut) and not reversal
    return _Facts(
        lines=len(claim.lines),
        triplets=triplets,
        clp03=claim.charge,
        clp04=claim.paid,
        clp05=claim.patient_responsibility,
        svc02=sum((line.charge for line in claim.lines), ZERO),
        svc03=sum((line.paid for line in claim.lines), ZERO),
        cas=cas,
        co253=cut,
        denied=denied,
        denial_codes=tuple(sorted(denial_codes)),
        reversal=reversal,
        review=sequestered and bool(denial_codes),
        safe=sequestered and not denial_codes and not other,
    )


@dataclass(slots=True)
class _Template:
    """A priced claim kept for replay: its text with CLP01, CLP07 and the patient number left
    as ``%`` fields, its segment count, its facts and how often it has been replayed."""

    text: str
    segments: int
    facts: _Facts
    uses: int = 0


class _Replay(NamedTuple):
    """One replayed claim: a template under new identifiers."""

    template: _Template
    patient_control_number: str
    payer_claim_number: str
    patient: str


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _builder(
    seed: int | str,
    index: int,
    payer: str | None,
    *,
    claims: int = 20,
    transactions: int = 1,
    interchanges: int = 1,
    target_bytes: int | None = None,
    claims_per_transaction: int = 250,
    payment_date: date | None = None,
    include_scenarios: Sequence[str] = (),
    include_plb: Sequence[str] = (),
    delimiters: Delimiters | None = None,
    keep_claims: bool = True,
    usage_indicator: str = "T",
    replay: bool | None = None,
) -> _FileBuilder:
    key = payer or PAYER_ROTATION[index % len(PAYER_ROTATION)]
    if key not in PAYERS:
        raise ValueError(f"unknown payer {key!r}; known: {', '.join(PAYERS)}")
    return _FileBuilder(
        seed,
        index,
        PAYERS[key],
        claims=claims,
        transactions=transactions,
        interchanges=interchanges,
        target_bytes=target_bytes,
        claims_per_transaction=claims_per_transaction,
        payment_date=payment_date,
        include_scenarios=include_scenarios,
        include_plb=include_plb,
        delimiters=delimiters or Delimiters(),
        keep_claims=keep_claims,
        usage_indicator=usage_indicator,
        replay=bool(target_bytes) if replay is None else replay,
    )


def generate_file(
    seed: int | str,
    *,
    index: int = 0,
    payer: str | None = None,
    claims: int = 20,
    transactions: int = 1,
    interchanges: int = 1,
    target_bytes: int | None = None,
    claims_per_transaction: int = 250,
    payment_date: date | None = None,
    include_scenarios: Sequence[str] = (),
    include_plb: Sequence[str] = (),
    delimiters: Delimiters | None = None,
    usage_indicator: str = "T",
    replay: bool | None = None,
) -> GeneratedFile:
    """One file in memory, the same bytes ``generate_batch`` writes for this seed and index.

    ``payer`` is a key of ``PAYERS`` (default: the rotation by ``index``). In count mode the
    file holds ``claims`` CLP segments (a reversal and its correction count as two) spread
    over ``transactions`` ST…SE and ``interchanges`` ISA…IEA; with ``target_bytes`` it holds
    transactions of ``claims_per_transaction`` claims until it is that large.
    ``include_scenarios`` forces the first claims' scenarios, in order, and ``include_plb``
    the PLB reasons of the first transaction (``WO``, ``L6``, ``FB``), so that a small file can
    be made to show what it must.

    ``replay`` (default: on when ``target_bytes`` is set) makes big files fast: the file keeps
    a pool of ``POOL_SIZE`` priced claims and writes most claims as replays of the pool under a
    fresh CLP01, CLP07 and patient; ``FRESH_SHARE`` of the claims, and every reversal, are
    priced fresh and refresh the pool. Amounts therefore repeat within a big file; the truth
    counts every replay. Count-mode files price every claim.
    """
    builder = _builder(
        seed,
        index,
        payer,
        claims=claims,
        transactions=transactions,
        interchanges=interchanges,
        target_bytes=target_bytes,
        claims_per_transaction=claims_per_transaction,
        payment_date=payment_date,
        include_scenarios=include_scenarios,
        include_plb=include_plb,
        delimiters=delimiters,
        usage_indicator=usage_indicator,
        replay=replay,
    )
    with localcontext(MONEY_CONTEXT):
        content = "".join(builder.chunks()).encode("ascii")
    return GeneratedFile(builder.name, content, builder.truth)


def _write(builder: _FileBuilder, out_dir: Path) -> FileTruth:
    """Write one file chunk by chunk, so memory holds one transaction at a time."""
    path = out_dir / builder.name
    with localcontext(MONEY_CONTEXT), path.open("wb") as handle:
        for chunk in builder.chunks():
            handle.write(chunk.encode("ascii"))
    return builder.truth


def generate_batch(
    out_dir: str | Path,
    n_files: int = 6,
    *,
    seed: int | str = 835,
    claims_per_file: int = 20,
    transactions_per_file: int | None = None,
    interchanges_per_file: int = 1,
    target_bytes: int | None = None,
    file_bytes: int = 10_000_000,
    claims_per_transaction: int = 250,
    payers: Sequence[str] | None = None,
    delimiters: Delimiters | None = None,
    keep_claims: bool | None = None,
    replay: bool | None = None,
) -> BatchTruth:
    """Write ``n_files`` files into ``out_dir`` and return their truth.

    With ``target_bytes`` the batch is about that large: ``ceil(target_bytes / file_bytes)``
    files of equal share each, and ``n_files`` and ``claims_per_file`` are ignored.
    ``payers`` is the rotation of payer keys (default: all five kinds). ``keep_claims`` keeps
    the per-claim lists of the truth (review queue, safe to close, reversal pairs); it
    defaults to True for count mode and False for a sized batch, whose lists would be large.
    ``replay`` is as in ``generate_file`` (default: on for a sized batch).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rotation = tuple(payers or PAYER_ROTATION)
    if keep_claims is None:
        keep_claims = target_bytes is None
    per_file_bytes: int | None = None
    if target_bytes:
        n_files = max(1, math.ceil(target_bytes / file_bytes))
        per_file_bytes = math.ceil(target_bytes / n_files)
    if transactions_per_file is None:
        transactions_per_file = max(1, math.ceil(claims_per_file / claims_per_transaction))

    truth = BatchTruth(seed=seed)
    for index in range(n_files):
        builder = _builder(
            seed,
            index,
            rotation[index % len(rotation)],
            claims=claims_per_file,
            transactions=transactions_per_file,
            interchanges=interchanges_per_file,
            target_bytes=per_file_bytes,
            claims_per_transaction=claims_per_transaction,
            delimiters=delimiters,
            keep_claims=keep_claims,
            replay=replay,
        )
        truth.add(_write(builder, out))
    return truth


# --------------------------------------------------------------------------------------------
# The bundled demo samples (sample_data/era)
# --------------------------------------------------------------------------------------------

#: The demo's seed: the first from 835 up whose draws make every pattern of SAMPLE_FILES show
#: (tests/test_generator.py::test_bundled_samples_cover_every_pattern says what is missing when
#: a change to the generator needs a new one).
SAMPLE_SEED = 837

#: One entry per bundled file; together they show every payer kind and every pattern the
#: marts and expectation suites look for. Payment dates are chosen to cross the rate periods.
SAMPLE_FILES: tuple[dict[str, object], ...] = (
    {  # Part B at 2%: the specialty denials beside CO-253, a reversal, WO and L6
        "payer": "mcrb",
        "claims": 10,
        "transactions": 2,
        "payment_date": date(2024, 3, 15),
        "include_scenarios": (
            "routine",
            "anesthesia",
            "psychotherapy",
            "angioplasty",
            "knee_global",
            "routine",
            "reversal",
            "denied_line",
        ),
        "include_plb": ("WO", "L6"),
        "delimiters": Delimiters(line_break="\n"),
    },
    {  # Part A across the 1% quarter: claim-level CO-253, denied days, a reversal
        "payer": "mcra",
        "claims": 7,
        "transactions": 2,
        "payment_date": date(2022, 7, 25),
        "include_scenarios": (
            "inpatient",
            "inpatient_partial_denial",
            "inpatient_denied",
            "inpatient",
            "reversal",
            "inpatient_forwarded",
        ),
        "include_plb": ("FB",),
    },
    {  # Medicare Advantage, CO-253 passed through on some claims only
        "payer": "mcadv",
        "claims": 6,
        "payment_date": date(2025, 2, 10),
        "include_scenarios": ("routine", "routine", "denied_line", "routine"),
        "delimiters": Delimiters(line_break="\r\n"),
    },
    {  # commercial: secondary and tertiary claims, two interchanges, other delimiters
        "payer": "comm",
        "claims": 6,
        "transactions": 2,
        "interchanges": 2,
        "payment_date": date(2023, 9, 5),
        "include_scenarios": ("secondary", "tertiary", "denied_claim", "routine"),
        "include_plb": ("L6",),
        "delimiters": Delimiters(element="|", component=">", repetition="^", line_break="\n"),
    },
    {  # Medicaid: never CO-253; a recoupment larger than the payment is forwarded (FB)
        "payer": "mcd",
        "claims": 4,
        "payment_date": date(2021, 6, 1),
        "include_scenarios": ("secondary", "denied_claim", "secondary", "denied_claim"),
        "include_plb": ("WO",),
    },
    {  # Part B when sequestration began (0 before 2013-04-01, then 2%)
        "payer": "mcrb",
        "claims": 6,
        "payment_date": date(2013, 5, 20),
        "include_scenarios": ("forwarded", "routine", "routine", "denied_claim", "routine"),
        "delimiters": Delimiters(line_break="\n"),
    },
    {  # Part B when sequestration was suspended (2% before 2020-05-01, then none)
        "payer": "mcrb",
        "claims": 5,
        "payment_date": date(2020, 6, 22),
        "include_scenarios": ("routine", "routine", "forwarded", "routine", "routine"),
    },
)


def write_samples(out_dir: str | Path, seed: int | str = SAMPLE_SEED,
                  truth_file: str | Path | None = None) -> BatchTruth:
    """Write the bundled sample files into ``out_dir`` and their truth beside that folder
    (``TRUTH.json`` next to it, unless ``truth_file`` says where): the inbox itself holds
    only 835 files, as a real one would."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    truth = BatchTruth(seed=seed)
    for index, options in enumerate(SAMPLE_FILES):
        generated = generate_file(seed, index=index, **options)  # type: ignore[arg-type]
        (out / generated.name).write_bytes(generated.content)
        truth.add(generated.truth)
    text = json.dumps(truth.to_dict(), indent=2) + "\n"
    truth_path = Path(truth_file) if truth_file else out.parent / "TRUTH.json"
    truth_path.write_text(text, encoding="utf-8")
    return truth


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m etl.generator --out DIR --files N --seed S [--target-mb M]``.

    Prints the truth summary (totals and per-file totals) as JSON; ``--truth FILE`` also
    writes the full truth with the per-claim lists.
    """
    parser = argparse.ArgumentParser(
        prog="python -m etl.generator", description="Write synthetic 835 files and their truth."
    )
    parser.add_argument("--out", required=True, type=Path, help="directory to write into")
    parser.add_argument("--files", type=int, default=6, help="number of files (count mode)")
    parser.add_argument(
        "--seed",
        help="seed, default 835 (samples: SAMPLE_SEED); the same seed gives the same bytes",
    )
    parser.add_argument("--claims", type=int, default=20, help="claims per file (count mode)")
    parser.add_argument("--target-mb", type=float, help="approximate batch size in MB")
    parser.add_argument("--file-mb", type=float, default=10.0, help="file size when sized")
    parser.add_argument("--truth", type=Path, help="write the full truth JSON here")
    parser.add_argument(
        "--samples",
        action="store_true",
        help="write the bundled demo samples and TRUTH.json instead",
    )
    args = parser.parse_args(argv)
    seed: int | str = SAMPLE_SEED if args.samples else 835
    if args.seed is not None:
        seed = int(args.seed) if args.seed.isdigit() else args.seed

    if args.samples:
        truth = write_samples(args.out, seed)
    else:
        target = int(args.target_mb * 1_000_000) if args.target_mb else None
        truth = generate_batch(
            args.out,
            args.files,
            seed=seed,
            claims_per_file=args.claims,
            target_bytes=target,
            file_bytes=int(args.file_mb * 1_000_000),
            keep_claims=True if args.truth else None,
        )
    if args.truth:
        args.truth.write_text(json.dumps(truth.to_dict(), indent=2) + "\n", encoding="utf-8")
    json.dump(truth.to_dict(claims=False), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
