"""Posting ledgers that match generated 835s, with mispostings planted on purpose.

A reconciliation check is only as good as the rows it is tried on: it must find every
misposting of its kind and nothing else. So this module renders 835 files with
``etl.generator`` (the same bytes it writes) while keeping the generator's own claim
objects, posts each claim into a ledger the way a practice management system would, and
then plants mispostings of every kind the checks look for, a known number of times, with
known dollars. The truth (which check must find what, where, for how much) is written
from those objects, never by reading the files back.

The clean ledger posts each ERA amount where it belongs: payments as PAYMENT, contractual
adjustments and sequestration (CO-253) as write-offs, patient responsibility as a
transfer to the patient (or to the next payer when the claim was forwarded), PLB items as
RECOUPMENT, INTEREST or PROVIDER_ADJUSTMENT; denials are left open or written off with a
denial write-off code; OA-23 and more-coming amounts are left alone; reversals are posted
negative. Claims are posted in four styles, so that both ways a ledger can carry its
codes are tried: ``auto`` (one row per CAS triplet with group, CARC, local code and
REF*6R), ``carc_only`` (the same without local codes), ``manual`` (local codes only,
amounts lumped per line, lines named by procedure, modifiers and date) and
``claim_level`` (local codes only, lumped per claim, no line keys, no CLP07).

For the ERA-only checks the 835s themselves get faults (``ERA_PLANTS``): CO-253 sent as
PR-253, a CO-253 off the rate, CO-45 taking a whole unpaid charge, CO-133 pending codes,
an orphan reversal, a reversal that does not negate its original, and a file sent twice.

``python -m etl.ledger_generator --samples`` writes the bundled demo ledger
(``sample_data/ledger``) for the bundled 835s; ``--out DIR`` writes a whole planted set
(835s, ledger, code map and ``PLANTED.json``).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from typing import Any

from etl.generator import (
    DENIALS,
    MONEY_CONTEXT,
    SAMPLE_FILES,
    SAMPLE_SEED,
    Adjustment,
    Claim,
    Delimiters,
    Payer,
    _builder,
    sequestration_rate,
)
from etl.ledger import CODE_MAP_NAME, LEDGER_COLUMNS

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
SOURCE_SYSTEM = "pm_test"
ERA_SUITES = {"era_sequestration", "era_writeoffs", "era_integrity"}
LEDGER_SUITE = "ledger_reconciliation"

#: The test practice's adjustment codes (written as ``local_codes.csv``).
CODE_MAP: tuple[tuple[str, str, bool, bool, str], ...] = (
    ("INS_PMT", "payment", False, False, "Insurance payment"),
    ("INS_REV", "reversal", False, False, "Insurance payment or write-off taken back"),
    ("PT_PMT", "payment", False, False, "Patient payment"),
    ("CONTRACTUAL", "contractual/fee-schedule", True, False, "Contractual write-off"),
    ("SEQ_WO", "sequestration", True, False, "Medicare sequestration write-off"),
    ("DENIAL_WO", "denial_other", False, True, "Denial written off after review"),
    ("XFER_PT", "transfer", False, False, "Balance transferred to the patient"),
    ("XFER_SEC", "transfer", False, False, "Balance transferred to the next payer"),
    ("SMALL_BAL", "patient cost-share", False, False, "Small patient balance written off"),
    ("ADMIN_WO", "other", False, False, "Administrative write-off"),
)

# --------------------------------------------------------------------------------------------
# 835s with their claim objects
# --------------------------------------------------------------------------------------------


@dataclass
class EraTransaction:
    """One ST…SE as the generator built it: its payment, trace, PLB and claim objects."""

    transaction_seq: int
    claims: list[Claim] = field(default_factory=list)
    trace: str = ""
    payment_date: date | None = None
    bpr02: Decimal = ZERO
    plb: list[tuple[str, str, Decimal]] = field(default_factory=list)


@dataclass
class EraFile:
    name: str
    content: bytes
    payer: Payer
    transactions: list[EraTransaction]
    repeat_of: str | None = None  # the file whose payments this one sends again

    @property
    def file_id(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass
class Finding:
    """One finding a check must report: the check, where, and the dollars at stake."""

    suite: str
    check: str
    amount: Decimal
    plant: str
    era_file: str | None = None
    transaction_seq: int | None = None
    claim_seq: int | None = None
    line_seq: int | None = None
    ledger_file: str | None = None
    ledger_line: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if v is not None}
        out["amount"] = str(self.amount)
        return out


def render_era(seed: int | str, index: int, options: dict[str, Any],
               mutate: Callable[[Claim], list[Finding]] | None = None,
               name: str | None = None) -> tuple[EraFile, list[Finding]]:
    """Render one 835 with ``etl.generator`` and keep its claim objects.

    The builder's own methods are wrapped, never changed: ``_tally`` sees each claim once
    it is priced and numbered (and before it is rendered, so ``mutate`` may change it as
    long as CLP04 stays the same: BPR02 is already summed), ``_plb_pairs`` and ``_header``
    give each transaction its PLB, trace and BPR02. Without ``mutate`` the bytes are those
    ``generator.generate_file`` writes for the same seed and options.
    """
    builder = _builder(seed, index, **options)
    transactions: dict[int, EraTransaction] = {}
    findings: list[Finding] = []
    tally, plb_pairs, header = builder._tally, builder._plb_pairs, builder._header

    def txn(seq: int) -> EraTransaction:
        return transactions.setdefault(seq, EraTransaction(seq))

    def on_tally(claim: Claim) -> None:
        if mutate is not None:
            findings.extend(mutate(claim))
        txn(claim.transaction_seq).claims.append(claim)
        tally(claim)

    def on_plb(paid_total, claims, trace):
        pairs = plb_pairs(paid_total, claims, trace)
        txn(builder.transaction_seq).plb = list(pairs)
        return pairs

    def on_header(out, bpr02, trace, payment_date):
        t = txn(builder.transaction_seq)
        t.trace, t.bpr02, t.payment_date = trace, bpr02, payment_date
        return header(out, bpr02, trace, payment_date)

    builder._tally, builder._plb_pairs, builder._header = on_tally, on_plb, on_header
    with localcontext(MONEY_CONTEXT):
        content = "".join(builder.chunks()).encode("ascii")
    file = EraFile(name or builder.name, content, builder.payer,
                   [transactions[k] for k in sorted(transactions)])
    for f in findings:
        f.era_file = file.name
    return file, findings


# --------------------------------------------------------------------------------------------
# ERA faults (the E checks)
# --------------------------------------------------------------------------------------------


def _round(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def _co253(adjustments: Sequence[Adjustment]) -> Decimal:
    return sum((a.amount for a in adjustments if (a.group, a.reason) == ("CO", "253")), ZERO)


def _line_rate_gap(claim: Claim, n: int) -> Decimal:
    """|CO-253 − round(r × (SVC03 + CO-253))| on line n, as the rate check computes it."""
    line = claim.lines[n - 1]
    cut = _co253(line.adjustments)
    rate = sequestration_rate(line.recipe.service_date)
    return abs(cut - _round(rate * (line.paid + cut)))


def _claim_rate_gap(claim: Claim) -> Decimal:
    cut = _co253(claim.adjustments)
    assert claim.statement_through is not None
    rate = sequestration_rate(claim.statement_through)
    return abs(cut - _round(rate * (claim.paid + cut)))


def _finding(suite: str, check: str, amount: Decimal, plant: str, claim: Claim,
             line_seq: int | None = None) -> Finding:
    return Finding(suite, check, amount, plant, transaction_seq=claim.transaction_seq,
                   claim_seq=claim.claim_seq, line_seq=line_seq)


def plant_pr253(claim: Claim) -> list[Finding]:
    """The payer sends the cut as PR-253 instead of CO-253 on the first sequestered line:
    billed to the patient, and the line's CO-253 is missing for the rate check."""
    for n, line in enumerate(claim.lines, start=1):
        for i, a in enumerate(line.adjustments):
            if (a.group, a.reason) == ("CO", "253") and a.amount > 0:
                line.adjustments[i] = a._replace(group="PR")
                claim.patient_responsibility += a.amount
                return [
                    _finding("era_sequestration", "carc_253_only_in_group_co", a.amount,
                             "pr253", claim, n),
                    _finding("era_sequestration", "co253_matches_rate_on_service_lines",
                             _line_rate_gap(claim, n), "pr253", claim, n),
                ]
    raise PlantError("pr253: no line with CO-253")


def plant_rate_off(claim: Claim, delta: Decimal = Decimal("0.50")) -> list[Finding]:
    """CO-253 taken ``delta`` too high, the difference taken out of CO-45 (CLP04 stays)."""
    if not claim.lines:  # Part A: at claim level
        cut = next(i for i, a in enumerate(claim.adjustments) if a.reason == "253")
        co45 = next(i for i, a in enumerate(claim.adjustments) if a.reason == "45")
        claim.adjustments[cut] = claim.adjustments[cut]._replace(
            amount=claim.adjustments[cut].amount + delta)
        claim.adjustments[co45] = claim.adjustments[co45]._replace(
            amount=claim.adjustments[co45].amount - delta)
        return [_finding("era_sequestration", "co253_matches_rate_on_claims",
                         _claim_rate_gap(claim), "rate_off", claim)]
    for n, line in enumerate(claim.lines, start=1):
        reasons = {a.reason: i for i, a in enumerate(line.adjustments) if a.group == "CO"}
        if "253" in reasons and "45" in reasons and line.adjustments[reasons["45"]].amount > 1:
            i, j = reasons["253"], reasons["45"]
            line.adjustments[i] = line.adjustments[i]._replace(
                amount=line.adjustments[i].amount + delta)
            line.adjustments[j] = line.adjustments[j]._replace(
                amount=line.adjustments[j].amount - delta)
            return [_finding("era_sequestration", "co253_matches_rate_on_service_lines",
                             _line_rate_gap(claim, n), "rate_off", claim, n)]
    raise PlantError("rate_off: no line with CO-253 and CO-45")


def _denied_line(claim: Claim) -> tuple[int, int]:
    for n, line in enumerate(claim.lines, start=1):
        if line.paid == 0 and line.charge > 0 and len(line.adjustments) == 1:
            return n, 0
    raise PlantError("no denied line")


def plant_co45_whole_charge(claim: Claim) -> list[Finding]:
    """A denial sent as CO-45 equal to the whole charge of an unpaid line (or claim)."""
    if not claim.lines:
        a = claim.adjustments[0]
        claim.adjustments[0] = Adjustment("CO", "45", a.amount, None)
        return [_finding("era_writeoffs", "co45_not_whole_charge_on_unpaid_claim", a.amount,
                         "co45_whole_charge", claim)]
    n, i = _denied_line(claim)
    line = claim.lines[n - 1]
    a = line.adjustments[i]
    line.adjustments[i] = Adjustment("CO", "45", a.amount, None)
    line.remarks = ()
    return [_finding("era_writeoffs", "co45_not_whole_charge_on_unpaid_line", a.amount,
                     "co45_whole_charge", claim, n)]


def plant_pending(claim: Claim) -> list[Finding]:
    """A denied line sent instead as CO-133 (pending further review): more is coming."""
    n, i = _denied_line(claim)
    line = claim.lines[n - 1]
    a = line.adjustments[i]
    line.adjustments[i] = Adjustment("CO", "133", a.amount, None)
    line.remarks = ()
    return [_finding("era_integrity", "more_coming_codes_held_open", a.amount, "pending",
                     claim, n)]


def plant_orphan_reversal(claim: Claim) -> list[Finding]:
    """A reversal whose CLP07 matches no claim ever paid: an orphan."""
    claim.payer_claim_number = "9" + claim.payer_claim_number
    return [_finding("era_integrity", "reversal_has_an_original", abs(claim.paid),
                     "orphan_reversal", claim)]


def plant_reversal_mismatch(claim: Claim, delta: Decimal = Decimal("5.00")) -> list[Finding]:
    """A reversal whose CLP03 does not negate its original's (CO-45 takes the difference)."""
    claim.charge -= delta
    if claim.lines:
        line = claim.lines[0]
        line.charge -= delta
        i = next(k for k, a in enumerate(line.adjustments) if a.reason == "45")
        line.adjustments[i] = line.adjustments[i]._replace(
            amount=line.adjustments[i].amount - delta)
    else:
        i = next(k for k, a in enumerate(claim.adjustments) if a.reason == "45")
        claim.adjustments[i] = claim.adjustments[i]._replace(
            amount=claim.adjustments[i].amount - delta)
    return [_finding("era_integrity", "reversal_negates_its_original", delta,
                     "reversal_mismatch", claim)]


ERA_PLANTS: dict[str, Callable[[Claim], list[Finding]]] = {
    "pr253": plant_pr253,
    "rate_off": plant_rate_off,
    "co45_whole_charge": plant_co45_whole_charge,
    "pending": plant_pending,
    "orphan_reversal": plant_orphan_reversal,
    "reversal_mismatch": plant_reversal_mismatch,
}


class PlantError(RuntimeError):
    """A plan asked for a plant the generated claims cannot take."""


def _rule_mutator(rules: Sequence[tuple[str, int, str]]) -> Callable[[Claim], list[Finding]]:
    """Mutate the ``n``-th claim of a scenario (1-based, in file order) with a plant."""
    counts: dict[str, int] = {}
    wanted = {(scenario, n): plant for scenario, n, plant in rules}
    done: set[tuple[str, int]] = set()

    def mutate(claim: Claim) -> list[Finding]:
        counts[claim.scenario] = counts.get(claim.scenario, 0) + 1
        key = (claim.scenario, counts[claim.scenario])
        if key not in wanted:
            return []
        done.add(key)
        return ERA_PLANTS[wanted[key]](claim)

    mutate.unplanted = lambda: [k for k in wanted if k not in done]  # type: ignore[attr-defined]
    return mutate


# --------------------------------------------------------------------------------------------
# Posting a claim into the ledger
# --------------------------------------------------------------------------------------------

#: The bucket each ERA adjustment falls in, the same rule the reconciliation models use.
def era_kind(a: Adjustment, more_coming: frozenset[str]) -> str:
    if a.group == "PR":
        return "patient_responsibility"
    if (a.group, a.reason) == ("OA", "23"):
        return "prior_payer"
    if a.reason in more_coming:
        return "more_coming"
    if a.reason in _DENIAL_REASONS:
        return "denial"
    if (a.group, a.reason) == ("CO", "253"):
        return "sequestration"
    return "contractual"


#: The denials the generator writes, and the more-coming codes the plants use (the seed
#: carc_reasons.csv is the authority; these are the codes that occur in generated files).
_DENIAL_REASONS = frozenset(reason for _, reason in DENIALS)
MORE_COMING = frozenset({"133", "257", "277", "143", "104", "245"})
FORWARDED = ("19", "20", "21")


@dataclass
class Row:
    """One ledger row before it is written, with what the planting needs to know."""

    txn_type: str
    amount: Decimal
    line_seq: int | None  # the ERA line it posts to (None: claim level or provider)
    local_code: str | None = None
    group: str | None = None
    carc: str | None = None
    kind: str | None = None  # era kind of the amount, for CARC-carrying rows
    bucket: str | None = None  # the clean bucket a lumped row posts
    provider_reason: str | None = None  # PLB reason of a provider row
    reference: str | None = None
    patient: bool = False  # a patient's own payment (responsibility_seq PT)


@dataclass
class ClaimPosting:
    file: EraFile
    txn: EraTransaction
    claim: Claim
    style: str
    denials: str  # open or writeoff
    rows: list[Row] = field(default_factory=list)
    planted: bool = False
    era_fault: bool = False  # the 835 itself was given a fault on this claim

    @property
    def by_line(self) -> bool:
        """Whether the reconciliation sees this claim line by line (every row names a line)."""
        return (bool(self.claim.lines) and not self.claim.adjustments
                and self.style in ("auto", "carc_only", "manual"))

    def unit_line(self, line_seq: int | None) -> int | None:
        return line_seq if self.by_line else None

    def units(self) -> list[int | None]:
        return list(range(1, len(self.claim.lines) + 1)) if self.by_line else [None]

    def adjustments(self, unit: int | None) -> list[Adjustment]:
        if unit is None:
            return list(self.claim.all_adjustments())
        return list(self.claim.lines[unit - 1].adjustments)

    def bucket_amount(self, unit: int | None, kind: str) -> Decimal:
        return sum((a.amount for a in self.adjustments(unit)
                    if era_kind(a, MORE_COMING) == kind), ZERO)

    def unit_paid(self, unit: int | None) -> Decimal:
        return self.claim.paid if unit is None else self.claim.lines[unit - 1].paid

    @property
    def is_reversal(self) -> bool:
        return self.claim.status == "22"

    @property
    def is_forwarded(self) -> bool:
        return self.claim.status in FORWARDED


def _transfer_type(posting: ClaimPosting) -> str:
    return "TRANSFER_TO_NEXT" if posting.is_forwarded else "TRANSFER_TO_PATIENT"


def _transfer_code(txn_type: str) -> str:
    return "XFER_SEC" if txn_type == "TRANSFER_TO_NEXT" else "XFER_PT"


def post_claim(posting: ClaimPosting) -> None:
    """The clean posting of a claim, in its style."""
    claim = posting.claim
    reversal = posting.is_reversal
    pay_type = "PAYMENT_REVERSAL" if reversal else "PAYMENT"
    wo_type = "ADJUSTMENT_REVERSAL" if reversal else "ADJUSTMENT"
    transfer = _transfer_type(posting)
    style = posting.style
    with_codes = style != "carc_only"
    rows = posting.rows

    def pieces() -> list[tuple[int | None, Decimal, list[Adjustment]]]:
        if claim.lines and style != "claim_level":
            return [(n, line.paid, list(line.adjustments))
                    for n, line in enumerate(claim.lines, start=1)] + (
                [(None, ZERO, list(claim.adjustments))] if claim.adjustments else [])
        return [(None, claim.paid, list(claim.all_adjustments()))]

    for line_seq, paid, adjustments in pieces():
        if paid:
            rows.append(Row(pay_type, paid, line_seq, "INS_REV" if reversal else "INS_PMT"))
        if style in ("auto", "carc_only"):
            for a in adjustments:
                kind = era_kind(a, MORE_COMING)
                if kind == "patient_responsibility":
                    rows.append(Row(transfer, a.amount, line_seq,
                                    _transfer_code(transfer) if with_codes else None,
                                    a.group, a.reason, kind))
                    if style == "auto" and a.reason == "3" and not reversal:
                        # the copay the patient paid at the desk: outside the 835
                        rows.append(Row("PAYMENT", a.amount, line_seq, "PT_PMT", patient=True))
                elif kind in ("contractual", "sequestration"):
                    code = ("SEQ_WO" if kind == "sequestration" else "CONTRACTUAL")
                    rows.append(Row(wo_type, a.amount, line_seq, code if with_codes else None,
                                    a.group, a.reason, kind))
                elif kind == "denial" and posting.denials == "writeoff" and with_codes:
                    rows.append(Row(wo_type, a.amount, line_seq, "DENIAL_WO", a.group,
                                    a.reason, kind))
            continue
        totals: dict[str, Decimal] = {}
        for a in adjustments:
            kind = era_kind(a, MORE_COMING)
            totals[kind] = totals.get(kind, ZERO) + a.amount
        for kind, code in (("contractual", "CONTRACTUAL"), ("sequestration", "SEQ_WO")):
            if totals.get(kind):
                rows.append(Row(wo_type, totals[kind], line_seq, code, bucket=kind))
        if totals.get("denial") and posting.denials == "writeoff":
            rows.append(Row(wo_type, totals["denial"], line_seq, "DENIAL_WO", bucket="denial"))
        if totals.get("patient_responsibility"):
            rows.append(Row(transfer, totals["patient_responsibility"], line_seq,
                            _transfer_code(transfer), bucket="patient_responsibility"))


def post_provider_rows(txn: EraTransaction) -> list[Row]:
    """PLB items as the ledger books them: each signed as its effect on the cash."""
    rows = []
    for reason, reference, amount in txn.plb:
        txn_type = {"WO": "RECOUPMENT", "L6": "INTEREST"}.get(reason, "PROVIDER_ADJUSTMENT")
        rows.append(Row(txn_type, -amount, None, provider_reason=reason, reference=reference))
    return rows


def _line_keys_unique(claim: Claim) -> bool:
    keys = [(line.recipe.code, line.recipe.modifiers, line.recipe.service_date)
            for line in claim.lines]
    return len(keys) == len(set(keys))


def choose_style(claim: Claim, rng: random.Random, clp01_unique: bool) -> str:
    if claim.status == "22" or claim.scenario == "correction":
        return "auto"
    options = ["auto", "auto", "auto", "carc_only", "manual", "manual", "claim_level"]
    style = rng.choice(options)
    if style == "manual" and (not claim.lines or not _line_keys_unique(claim)):
        style = "claim_level"
    if style == "claim_level" and not clp01_unique:
        style = "auto"
    return style


# --------------------------------------------------------------------------------------------
# The ledger: postings, plants and the CSV
# --------------------------------------------------------------------------------------------


class Ledger:
    """The postings of a set of 835s, the plants made on them and the findings due."""

    def __init__(self, files: Sequence[EraFile], seed: int | str,
                 era_findings: Sequence[Finding] = ()):
        self.seed = seed
        faults = {(f.era_file, f.transaction_seq, f.claim_seq) for f in era_findings}
        self.files = [f for f in files if f.repeat_of is None]
        self.claims: list[ClaimPosting] = []
        self.provider: dict[tuple[str, int], list[Row]] = {}
        self.extra: list[tuple[ClaimPosting | None, Row, str | None]] = []
        self.omitted: set[tuple[str, int]] = set()  # payments left out of the ledger
        self.plb_planted: set[tuple[str, int]] = set()
        self.findings: list[Finding] = []
        for file in self.files:
            for txn in file.transactions:
                pcns = [c.patient_control_number for c in txn.claims]
                for claim in txn.claims:
                    rng = random.Random(f"eraflow-ledger:{seed}:{file.name}:"
                                        f"{txn.transaction_seq}:{claim.claim_seq}")
                    style = choose_style(claim, rng, pcns.count(claim.patient_control_number) == 1)
                    denials = "open" if style == "carc_only" or rng.random() < 0.5 else "writeoff"
                    posting = ClaimPosting(file, txn, claim, style, denials, era_fault=(
                        file.name, txn.transaction_seq, claim.claim_seq) in faults)
                    post_claim(posting)
                    self.claims.append(posting)
                self.provider[(file.name, txn.transaction_seq)] = post_provider_rows(txn)

    # ---- finding targets

    def eligible(self, test: Callable[[ClaimPosting], bool], faults: bool = False
                 ) -> list[ClaimPosting]:
        """Claims a plant may take: not planted yet, in a payment the ledger posts, and
        (unless ``faults``) without an ERA fault, so each finding has one cause."""
        return [p for p in self.claims
                if not p.planted and (faults or not p.era_fault) and test(p)
                and (p.file.name, p.txn.transaction_seq) not in self.omitted]

    def _take(self, name: str, candidates: list[ClaimPosting], n: int) -> list[ClaimPosting]:
        if len(candidates) < n:
            raise PlantError(f"{name}: {len(candidates)} eligible claim(s), {n} wanted")
        for p in candidates[:n]:
            p.planted = True
        return candidates[:n]

    def _due(self, check: str, amount: Decimal, plant: str, p: ClaimPosting,
             unit: int | None = None, suite: str = LEDGER_SUITE) -> None:
        self.findings.append(Finding(suite, check, amount, plant, p.file.name,
                                     p.txn.transaction_seq, p.claim.claim_seq, unit))

    # ---- unit-level plants

    def _fits(self, p: ClaimPosting, style: str) -> bool:
        """Whether the claim can be posted in ``style`` (see ``choose_style``)."""
        claim = p.claim
        if p.is_reversal or claim.scenario == "correction":
            return style == "auto"
        if style == "manual":
            return bool(claim.lines) and _line_keys_unique(claim)
        if style == "claim_level":
            pcns = [c.patient_control_number for c in p.txn.claims]
            return pcns.count(claim.patient_control_number) == 1
        return True

    def _pick_units(self, name: str, test: Callable[[ClaimPosting, int | None], bool],
                    styles_each: Sequence[Sequence[str]], faults: bool = False
                    ) -> list[tuple[ClaimPosting, int | None]]:
        """One (claim, unit) per entry of ``styles_each``, the first in ledger order that
        passes ``test`` when posted in one of those styles. A claim posted in another
        style is posted again in the wanted one: the style is the ledger's choice, the
        plant needs a given one."""
        picked = []
        for styles in styles_each:
            found = None
            for p in self.eligible(lambda p: not p.is_reversal, faults):
                order = ([p.style] if p.style in styles else []) + [
                    s for s in styles if s != p.style]
                for style in order:
                    if not self._fits(p, style):
                        continue
                    before = (p.style, p.rows)
                    if style != p.style:
                        p.style, p.rows = style, []
                        post_claim(p)
                    unit = next((u for u in p.units() if test(p, u)), "none")
                    if unit != "none":
                        found = (p, unit)
                        break
                    p.style, p.rows = before
                if found:
                    break
            if not found:
                raise PlantError(f"{name}: no eligible unit in styles {styles}")
            found[0].planted = True
            picked.append(found)
        return picked

    @staticmethod
    def _quiet(p: ClaimPosting, unit: int | None) -> bool:
        """No open denial, more-coming or OA-23 amount that a lumped write-off would fill."""
        return all(not p.bucket_amount(unit, k) for k in ("denial", "more_coming",
                                                           "prior_payer"))

    def _remove(self, p: ClaimPosting, unit: int | None, test: Callable[[Row], bool]) -> None:
        p.rows = [r for r in p.rows if not (p.unit_line(r.line_seq) == unit and test(r))]

    def _add_lump(self, p: ClaimPosting, unit: int | None, txn_type: str, amount: Decimal,
                  code: str, bucket: str) -> None:
        for r in p.rows:
            if (p.unit_line(r.line_seq) == unit and r.txn_type == txn_type
                    and r.local_code == code and r.kind is None):
                r.amount += amount
                return
        line = unit if p.by_line else None
        p.rows.append(Row(txn_type, amount, line, code, bucket=bucket))

    def plant_sequestration_transferred(self, styles_each=(("auto",), ("manual",))) -> None:
        def test(p, unit):
            return p.bucket_amount(unit, "sequestration") > 0
        for p, unit in self._pick_units("sequestration_transferred", test, styles_each):
            amount = p.bucket_amount(unit, "sequestration")
            self._remove(p, unit, lambda r: r.kind == "sequestration"
                         or r.bucket == "sequestration")
            if p.style in ("auto", "carc_only"):
                txn_type = "TRANSFER_TO_NEXT"
                for a in p.adjustments(unit):
                    if era_kind(a, MORE_COMING) == "sequestration":
                        p.rows.append(Row(txn_type, a.amount, unit,
                                          "XFER_SEC" if p.style == "auto" else None,
                                          a.group, a.reason, "sequestration"))
            else:
                self._add_lump(p, unit, _transfer_type(p), amount,
                               _transfer_code(_transfer_type(p)), "patient_responsibility")
            self._due("sequestration_not_billed_to_patient", amount, "sequestration_transferred",
                      p, unit)

    def plant_denial_as_contractual(self, styles_each=(("auto",), ("carc_only",), ("manual",))
                                    ) -> None:
        def test(p, unit):
            return p.bucket_amount(unit, "denial") > 0 and not p.bucket_amount(
                unit, "more_coming")
        for p, unit in self._pick_units("denial_as_contractual", test, styles_each):
            amount = p.bucket_amount(unit, "denial")
            self._remove(p, unit, lambda r: r.kind == "denial" or r.bucket == "denial")
            if p.style in ("auto", "carc_only"):
                for a in p.adjustments(unit):
                    if era_kind(a, MORE_COMING) == "denial":
                        p.rows.append(Row("ADJUSTMENT", a.amount, unit,
                                          "CONTRACTUAL" if p.style == "auto" else None,
                                          a.group, a.reason, "denial"))
            else:
                self._add_lump(p, unit, "ADJUSTMENT", amount, "CONTRACTUAL", "contractual")
            self._due("denial_not_written_off_as_contractual", amount, "denial_as_contractual",
                      p, unit)

    def _pr_units(self, forwarded: bool):
        def test(p, unit):
            return (p.is_forwarded == forwarded and self._quiet(p, unit)
                    and p.bucket_amount(unit, "patient_responsibility") > 0)
        return test

    def _write_off_pr(self, p: ClaimPosting, unit: int | None, code: str) -> Decimal:
        amount = p.bucket_amount(unit, "patient_responsibility")
        self._remove(p, unit, lambda r: r.txn_type.startswith("TRANSFER"))
        if p.style in ("auto", "carc_only"):
            for a in p.adjustments(unit):
                if era_kind(a, MORE_COMING) == "patient_responsibility":
                    p.rows.append(Row("ADJUSTMENT", a.amount, unit,
                                      code if p.style == "auto" else None, a.group, a.reason,
                                      "patient_responsibility"))
        else:
            self._add_lump(p, unit, "ADJUSTMENT", amount, code, "patient_responsibility")
        return amount

    def plant_pr_written_off(self, styles_each=(("auto",), ("manual", "claim_level"))) -> None:
        for p, unit in self._pick_units("pr_written_off", self._pr_units(False), styles_each):
            amount = self._write_off_pr(p, unit, "SMALL_BAL")
            self._due("patient_responsibility_not_written_off", amount, "pr_written_off", p,
                      unit)

    def plant_contractual_transferred(self, styles_each=(("auto",), ("manual",))) -> None:
        def test(p, unit):
            c = p.bucket_amount(unit, "contractual")
            return c > 1 and abs(c - p.bucket_amount(unit, "sequestration")) > CENT
        for p, unit in self._pick_units("contractual_transferred", test, styles_each):
            amount = p.bucket_amount(unit, "contractual")
            transfer = _transfer_type(p)
            self._remove(p, unit, lambda r: (r.kind == "contractual"
                                             or r.bucket == "contractual")
                         and r.txn_type == "ADJUSTMENT")
            if p.style in ("auto", "carc_only"):
                for a in p.adjustments(unit):
                    if era_kind(a, MORE_COMING) == "contractual":
                        p.rows.append(Row(transfer, a.amount, unit,
                                          _transfer_code(transfer) if p.style == "auto"
                                          else None, a.group, a.reason, "contractual"))
            else:
                self._add_lump(p, unit, transfer, amount, _transfer_code(transfer),
                               "patient_responsibility")
            self._due("contractual_not_transferred_to_patient", amount,
                      "contractual_transferred", p, unit)

    def plant_oa23_written_off(self, styles_each=(("auto",), ("manual", "claim_level"))
                               ) -> None:
        def test(p, unit):
            return p.bucket_amount(unit, "prior_payer") > 0 and not (
                p.bucket_amount(unit, "denial") or p.bucket_amount(unit, "more_coming"))
        for p, unit in self._pick_units("oa23_written_off", test, styles_each):
            amount = p.bucket_amount(unit, "prior_payer")
            if p.style in ("auto", "carc_only"):
                for a in p.adjustments(unit):
                    if era_kind(a, MORE_COMING) == "prior_payer":
                        p.rows.append(Row("ADJUSTMENT", a.amount, unit,
                                          "CONTRACTUAL" if p.style == "auto" else None,
                                          a.group, a.reason, "prior_payer"))
            else:
                self._add_lump(p, unit, "ADJUSTMENT", amount, "CONTRACTUAL", "contractual")
            self._due("oa23_not_written_off", amount, "oa23_written_off", p, unit)

    def plant_more_coming_written_off(self, pending_styles=(("auto",), ("manual",)),
                                      forwarded_styles=(("auto",), ("manual", "claim_level"))
                                      ) -> None:
        def pending(p, unit):
            return p.bucket_amount(unit, "more_coming") > 0 and not p.bucket_amount(
                unit, "denial")
        # the pending codes are ERA faults of their own (more_coming_codes_held_open)
        for p, unit in self._pick_units("more_coming_pending", pending, pending_styles,
                                        faults=True):
            amount = p.bucket_amount(unit, "more_coming")
            if p.style in ("auto", "carc_only"):
                for a in p.adjustments(unit):
                    if era_kind(a, MORE_COMING) == "more_coming":
                        p.rows.append(Row("ADJUSTMENT", a.amount, unit,
                                          "CONTRACTUAL" if p.style == "auto" else None,
                                          a.group, a.reason, "more_coming"))
            else:
                self._add_lump(p, unit, "ADJUSTMENT", amount, "CONTRACTUAL", "contractual")
            self._due("more_coming_not_written_off", amount, "pending_written_off", p, unit)
        for p, unit in self._pick_units("more_coming_forwarded", self._pr_units(True),
                                        forwarded_styles):
            amount = self._write_off_pr(p, unit, "CONTRACTUAL")
            self._due("more_coming_not_written_off", amount, "forwarded_written_off", p, unit)

    def plant_unexplained_writeoff(self, styles_each=(("auto",), ("manual",))) -> None:
        def test(p, unit):
            return p.unit_paid(unit) > 0 and self._quiet(p, unit)
        for p, unit in self._pick_units("unexplained_writeoff", test, styles_each):
            amount = p.unit_paid(unit)
            p.rows.append(Row("ADJUSTMENT", amount, unit if p.by_line else None, "ADMIN_WO",
                              bucket="unexplained"))
            self._due("writeoff_within_era_adjustments", amount, "unexplained_writeoff", p, unit)

    # ---- claim-level plants

    def plant_reversal_not_posted(self, n: int = 1) -> None:
        for p in self._take("reversal_not_posted", self.eligible(
                lambda p: p.is_reversal and p.claim.paid != 0), n):
            p.rows = []
            self._due("reversal_posted", abs(p.claim.paid), "reversal_not_posted", p)

    def plant_reversal_wrong_sign(self, n: int = 1) -> None:
        for p in self._take("reversal_wrong_sign", self.eligible(
                lambda p: p.is_reversal and p.claim.paid != 0), n):
            writeoffs = sum((r.amount for r in p.rows if r.txn_type == "ADJUSTMENT_REVERSAL"),
                            ZERO)
            for r in p.rows:
                r.amount = -r.amount
            self._due("reversal_posted_with_the_right_sign",
                      2 * abs(p.claim.paid) + 2 * abs(writeoffs), "reversal_wrong_sign", p)

    def plant_payment_typo(self, n: int = 1, delta: Decimal = Decimal("9.00")) -> None:
        for p in self._take("payment_typo", self.eligible(
                lambda p: not p.is_reversal and any(r.txn_type == "PAYMENT" for r in p.rows)),
                n):
            row = next(r for r in p.rows if r.txn_type == "PAYMENT")
            row.amount += delta
            self._due("claim_payment_matches_era", delta, "payment_typo", p)

    def plant_duplicate_posting(self, n: int = 1) -> None:
        for p in self._take("duplicate_posting", self.eligible(
                lambda p: not p.is_reversal and len(p.rows) >= 2), n):
            for r in p.rows:
                copy = Row(**r.__dict__)
                self.extra.append((p, copy, "duplicate"))

    # ---- transaction-level plants

    def _transactions(self, test: Callable[[EraFile, EraTransaction], bool]):
        busy = {(p.file.name, p.txn.transaction_seq) for p in self.claims
                if p.planted or p.era_fault}
        busy |= self.omitted | self.plb_planted
        return [(f, t) for f in self.files for t in f.transactions
                if (f.name, t.transaction_seq) not in busy and test(f, t)]

    def plant_plb_not_booked(self, n: int = 1) -> None:
        found = self._transactions(lambda f, t: any(r == "WO" for r, _, _ in t.plb))
        if len(found) < n:
            raise PlantError(f"plb_not_booked: {len(found)} payment(s) with a WO, {n} wanted")
        for f, t in found[:n]:
            rows = self.provider[(f.name, t.transaction_seq)]
            gone = [r for r in rows if r.provider_reason == "WO"]
            self.provider[(f.name, t.transaction_seq)] = [r for r in rows if r not in gone]
            self.findings.append(Finding(LEDGER_SUITE, "plb_recoupment_booked",
                                         sum((abs(r.amount) for r in gone), ZERO),
                                         "plb_not_booked", f.name, t.transaction_seq))
            self.plb_planted.add((f.name, t.transaction_seq))

    def plant_payment_not_posted(self, n: int = 1) -> None:
        dates = sorted(t.payment_date for f in self.files for t in f.transactions)
        first, last = dates[0], dates[-1]
        found = self._transactions(lambda f, t: first < t.payment_date < last
                                   and not any(c.status == "22" for c in t.claims))
        if len(found) < n:
            raise PlantError(f"payment_not_posted: {len(found)} candidate payment(s)")
        for f, t in found[:n]:
            self.omitted.add((f.name, t.transaction_seq))
            self.findings.append(Finding(LEDGER_SUITE, "era_payment_posted", t.bpr02,
                                         "payment_not_posted", f.name, t.transaction_seq))

    def plant_unmatched_posting(self, amount: Decimal = Decimal("75.00")) -> None:
        row = Row("PAYMENT", amount, None, "INS_PMT")
        self.extra.append((None, row, "unmatched"))

    # ---- the CSV

    def rows_for_csv(self) -> list[tuple[dict[str, str], ClaimPosting | None, Row, str | None]]:
        """Every row in ledger order: payment by payment, claim by claim, then the
        provider-level rows of the payment; the planted extra rows last."""
        out = []
        for file in self.files:
            for txn in file.transactions:
                if (file.name, txn.transaction_seq) in self.omitted:
                    continue
                for p in self.claims:
                    if p.txn is txn:
                        out.extend((self._csv_row(p, r), p, r, None) for r in p.rows)
                for r in self.provider[(file.name, txn.transaction_seq)]:
                    out.append((self._provider_csv_row(file, txn, r), None, r, None))
        for p, r, why in self.extra:
            row = self._csv_row(p, r) if p is not None else self._unmatched_csv_row(r)
            out.append((row, p, r, why))
        return out

    def _base(self, file: EraFile, txn: EraTransaction) -> dict[str, str]:
        assert txn.payment_date is not None
        return {
            "source_system": SOURCE_SYSTEM,
            "posted_date": (txn.payment_date + timedelta(days=2)).isoformat(),
            "deposit_date": txn.payment_date.isoformat(),
            "payer_id": file.payer.payer_id,
            "trace_payer_id": file.payer.trace_id,
            "trace_number": txn.trace,
            "posted_by": "auto-era",
            "era_file_ref": file.name,
        }

    def _csv_row(self, p: ClaimPosting, r: Row) -> dict[str, str]:
        claim = p.claim
        row = self._base(p.file, p.txn)
        row.update({
            "patient_control_number": claim.patient_control_number,
            "payer_claim_control_number": claim.payer_claim_number,
            "original_payer_claim_control_number": claim.original_reference or "",
            "responsibility_seq": {"2": "S", "3": "T"}.get(claim.status, "P"),
            "txn_type": r.txn_type,
            "amount": f"{r.amount:.2f}",
            "group_code": r.group or "",
            "carc": r.carc or "",
            "local_adj_code": r.local_code or "",
        })
        if p.style in ("manual", "claim_level"):
            row.update({"posted_by": "biller", "era_file_ref": "", "deposit_date": "",
                        "trace_payer_id": ""})
        if p.style == "claim_level":
            row["payer_claim_control_number"] = ""
        if r.patient:
            row.update({"responsibility_seq": "PT", "trace_number": "", "trace_payer_id": "",
                        "posted_by": "front-desk"})
        if r.line_seq is not None:
            line = claim.lines[r.line_seq - 1]
            if p.style in ("auto", "carc_only"):
                row["service_line_ref"] = line.control_number
            row["procedure_code"] = line.recipe.code
            row["modifiers"] = ":".join(line.recipe.modifiers)
            row["service_date"] = line.recipe.service_date.isoformat()
        return row

    def _provider_csv_row(self, file: EraFile, txn: EraTransaction, r: Row) -> dict[str, str]:
        row = self._base(file, txn)
        row.update({"responsibility_seq": "P", "txn_type": r.txn_type,
                    "amount": f"{r.amount:.2f}", "rarc": "",
                    "payer_claim_control_number": r.reference or ""})
        return row

    def _unmatched_csv_row(self, r: Row) -> dict[str, str]:
        file, txn = self.files[0], self.files[0].transactions[0]
        row = self._base(file, txn)
        row.update({"trace_number": "PAPER000417", "trace_payer_id": "",
                    "patient_control_number": "TPCN9999000001", "responsibility_seq": "P",
                    "txn_type": r.txn_type, "amount": f"{r.amount:.2f}",
                    "local_adj_code": r.local_code or "", "posted_by": "biller",
                    "era_file_ref": ""})
        return row


def write_ledger(ledger: Ledger, out_dir: Path, name: str = "posting_ledger.csv",
                 reexport: int = 0) -> list[Finding]:
    """Write the ledger CSV (and the code map) and turn its row-level plants into findings.

    ``reexport`` writes a second file, ``<name>_reexport.csv``, that repeats the last
    ``reexport`` rows of the first with the same ledger_txn_id (an overlapping export: the
    rows count once, not as duplicates).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    columns = [c for c, _, _ in LEDGER_COLUMNS]
    entries = ledger.rows_for_csv()
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    lines: list[tuple[int, dict[str, str], ClaimPosting | None, Row, str | None]] = []
    for n, (row, p, r, why) in enumerate(entries, start=1):
        row = {c: row.get(c, "") for c in columns}
        row["ledger_txn_id"] = f"T{n:06d}"
        writer.writerow(row)
        lines.append((n + 1, row, p, r, why))
    text = buf.getvalue().encode("utf-8")
    path = out_dir / name
    path.write_bytes(text)

    findings = []
    for line, row, p, r, why in lines:
        if why == "duplicate":
            assert p is not None
            findings.append(Finding(LEDGER_SUITE, "ledger_posting_not_duplicated", abs(r.amount),
                                    "duplicate_posting", p.file.name, p.txn.transaction_seq,
                                    p.claim.claim_seq, p.unit_line(r.line_seq), name, line))
        elif why == "unmatched":
            findings.append(Finding(LEDGER_SUITE, "ledger_posting_matches_era", abs(r.amount),
                                    "unmatched_posting", ledger_file=name, ledger_line=line))
    if reexport:
        again = io.StringIO()
        w = csv.DictWriter(again, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        normal = [entry for entry in lines if entry[4] is None][-reexport:]
        duplicated = {id(p) for _, _, p, _, why in lines if why == "duplicate"}
        if any(id(p) in duplicated for _, _, p, _, _ in normal):
            raise PlantError("a re-exported row belongs to the claim posted twice")
        for _, row, _, _, _ in normal:
            w.writerow(row)
        (out_dir / name.replace(".csv", "_reexport.csv")).write_text(again.getvalue(),
                                                                     encoding="utf-8")
    write_code_map(out_dir / CODE_MAP_NAME)
    return findings


def write_code_map(path: Path) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["local_adj_code", "category", "is_contractual", "is_denial_writeoff",
                     "description"])
    for code, category, contractual, denial, description in CODE_MAP:
        writer.writerow([code, category, str(contractual).lower(), str(denial).lower(),
                         description])
    path.write_text(buf.getvalue(), encoding="utf-8")


# --------------------------------------------------------------------------------------------
# The two sets: the planted test set and the bundled demo ledger
# --------------------------------------------------------------------------------------------

#: The planted test set: five payers (no Medicare Advantage, whose CO-253 pass-through is a
#: contract question, not a misposting), every scenario the plants need, and the ERA faults
#: as (scenario, n-th claim of that scenario in the file, plant).
TEST_SEED = "ledger-recon"
TEST_FILES: tuple[dict[str, Any], ...] = (
    {
        "options": {
            "payer": "mcrb", "claims": 16, "transactions": 3, "payment_date": date(2024, 3, 11),
            "include_scenarios": ("routine", "denied_line", "denied_line", "denied_line",
                                  "denied_line", "routine", "forwarded", "routine",
                                  "reversal", "denied_line", "routine", "reversal",
                                  "routine", "forwarded"),
            "include_plb": ("WO", "L6"),
            "delimiters": Delimiters(line_break="\n"),
        },
        "era_plants": (("denied_line", 1, "pr253"), ("denied_line", 2, "rate_off"),
                       ("denied_line", 3, "co45_whole_charge"), ("denied_line", 4, "pending"),
                       ("denied_line", 5, "pending"), ("reversal", 1, "orphan_reversal")),
    },
    {
        "options": {
            "payer": "mcra", "claims": 10, "transactions": 2, "payment_date": date(2023, 8, 7),
            "include_scenarios": ("inpatient", "inpatient_partial_denial", "inpatient_denied",
                                  "inpatient", "inpatient_forwarded", "inpatient",
                                  "reversal", "inpatient_partial_denial", "inpatient"),
            "include_plb": ("FB",),
        },
        "era_plants": (("inpatient_partial_denial", 1, "rate_off"),
                       ("inpatient_denied", 1, "co45_whole_charge"),
                       ("reversal", 1, "reversal_mismatch")),
    },
    {
        "options": {
            "payer": "comm", "claims": 12, "transactions": 2, "payment_date": date(2023, 10, 2),
            "include_scenarios": ("secondary", "secondary", "tertiary", "denied_claim",
                                  "routine", "denied_line", "secondary", "reversal",
                                  "routine", "secondary", "denied_line"),
            "include_plb": ("L6",),
            "delimiters": Delimiters(element="|", component=">", line_break="\n"),
        },
        "era_plants": (),
    },
    {
        "options": {
            "payer": "mcd", "claims": 10, "transactions": 2, "payment_date": date(2024, 1, 15),
            "include_scenarios": ("secondary", "denied_line", "secondary", "routine",
                                  "denied_claim", "secondary", "reversal", "routine",
                                  "denied_line"),
            "include_plb": ("WO",),
        },
        "era_plants": (),
    },
    {
        "options": {
            "payer": "mcrb", "claims": 12, "transactions": 3, "payment_date": date(2022, 5, 16),
            "include_scenarios": ("routine", "forwarded", "denied_line", "routine",
                                  "routine", "reversal", "psychotherapy", "routine",
                                  "denied_line", "reversal", "knee_global"),
            "include_plb": ("WO",),
        },
        "era_plants": (),
        "resent_as": "era_mcrb_0005_resent.835",  # sent again, other line breaks: a repeat
    },
)


def planted_era_files(planted: bool = True, seed: int | str = TEST_SEED
                   ) -> tuple[list[EraFile], list[Finding]]:
    """The 835s of the test set, with their ERA faults when ``planted``."""
    files, findings = [], []
    for index, spec in enumerate(TEST_FILES):
        mutate = _rule_mutator(spec["era_plants"]) if planted else None
        file, found = render_era(seed, index, dict(spec["options"]), mutate)
        if mutate is not None and mutate.unplanted():  # type: ignore[attr-defined]
            raise PlantError(f"{file.name}: no claim for {mutate.unplanted()}")  # type: ignore
        files.append(file)
        findings.extend(found)
        if planted and spec.get("resent_as"):
            options = dict(spec["options"], delimiters=Delimiters(line_break="\r\n"))
            again, _ = render_era(seed, index, options, name=spec["resent_as"])
            again.repeat_of = file.name
            files.append(again)
            for t in again.transactions:
                findings.append(Finding("era_integrity", "payment_not_sent_twice", t.bpr02,
                                        "resent_file", again.name, t.transaction_seq))
    return files, findings


def plant_all(ledger: Ledger) -> None:
    """Every ledger misposting kind, twice where the set allows (once on rows that carry
    their CARC, once on rows that carry only a local code). The scarce targets go first."""
    ledger.plant_reversal_not_posted(1)
    ledger.plant_reversal_wrong_sign(2)
    ledger.plant_plb_not_booked(1)
    ledger.plant_payment_not_posted(1)
    ledger.plant_more_coming_written_off()
    ledger.plant_oa23_written_off()
    ledger.plant_sequestration_transferred()
    ledger.plant_denial_as_contractual()
    ledger.plant_pr_written_off()
    ledger.plant_contractual_transferred()
    ledger.plant_unexplained_writeoff()
    ledger.plant_payment_typo(2)
    ledger.plant_duplicate_posting(1)
    ledger.plant_unmatched_posting()


@dataclass
class PlantedSet:
    """What was written and what the checks must find."""

    seed: int | str
    era_files: list[EraFile]
    ledger_files: dict[str, str]  # name -> sha256
    findings: list[Finding]
    planted: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "generator": "etl.ledger_generator",
            "seed": self.seed,
            "planted": self.planted,
            "era_files": [{"name": f.name, "sha256": f.file_id, "repeat_of": f.repeat_of}
                          for f in self.era_files],
            "ledger_files": [{"name": k, "sha256": v} for k, v in self.ledger_files.items()],
            "findings": [f.to_dict() for f in self.findings],
        }


def _ledger_hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.glob("*.csv")) if p.name != CODE_MAP_NAME}


def write_test_set(out_dir: str | Path, planted: bool = True, seed: int | str = TEST_SEED
                   ) -> PlantedSet:
    """``out_dir/era/*.835``, ``out_dir/ledger/*.csv`` (with ``local_codes.csv``) and
    ``out_dir/PLANTED.json``: the generated set, planted or fully clean."""
    out = Path(out_dir)
    era_dir, ledger_dir = out / "era", out / "ledger"
    era_dir.mkdir(parents=True, exist_ok=True)
    files, findings = planted_era_files(planted, seed)
    for f in files:
        (era_dir / f.name).write_bytes(f.content)
    ledger = Ledger(files, seed, findings)
    if planted:
        plant_all(ledger)
    findings += ledger.findings
    findings += write_ledger(ledger, ledger_dir, reexport=5 if planted else 0)
    result = PlantedSet(seed, files, _ledger_hashes(ledger_dir), findings, planted)
    (out / "PLANTED.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n",
                                      encoding="utf-8")
    return result


def sample_era_files() -> list[EraFile]:
    """The bundled 835s (``sample_data/era``) with their claim objects."""
    files = []
    for index, options in enumerate(SAMPLE_FILES):
        file, _ = render_era(SAMPLE_SEED, index, dict(options))
        files.append(file)
    return files


def write_sample_ledger(out_dir: str | Path, era_dir: str | Path | None = None) -> PlantedSet:
    """The bundled demo ledger for ``sample_data/era``, with every ledger misposting kind
    planted (the bundled 835s have no faults of their own). Refuses to write when the 835s
    in ``era_dir`` are not the generator's (the ledger would not match them)."""
    out = Path(out_dir)
    files = sample_era_files()
    if era_dir is not None:
        for f in files:
            on_disk = Path(era_dir) / f.name
            if not on_disk.is_file() or on_disk.read_bytes() != f.content:
                raise PlantError(f"{on_disk} is not what etl.generator writes; regenerate it")
    ledger = Ledger(files, SAMPLE_SEED)
    any_style = (("auto", "carc_only", "manual", "claim_level"),)
    ledger.plant_reversal_not_posted(1)
    ledger.plant_reversal_wrong_sign(1)
    ledger.plant_plb_not_booked(1)
    ledger.plant_payment_not_posted(1)
    ledger.plant_more_coming_written_off(pending_styles=(), forwarded_styles=any_style)
    ledger.plant_oa23_written_off(any_style)
    ledger.plant_sequestration_transferred(any_style)
    ledger.plant_denial_as_contractual(any_style)
    ledger.plant_pr_written_off(any_style)
    ledger.plant_contractual_transferred(any_style)
    ledger.plant_unexplained_writeoff(any_style)
    ledger.plant_payment_typo(1)
    ledger.plant_duplicate_posting(1)
    ledger.plant_unmatched_posting()
    findings = ledger.findings + write_ledger(ledger, out)
    result = PlantedSet(SAMPLE_SEED, files, _ledger_hashes(out), findings, True)
    (out / "PLANTED.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n",
                                      encoding="utf-8")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m etl.ledger_generator",
        description="Write posting ledgers matching generated 835s, with planted mispostings.")
    parser.add_argument("--out", type=Path, help="folder to write the planted test set into")
    parser.add_argument("--clean", action="store_true", help="write the set with no plants")
    parser.add_argument("--seed", default=TEST_SEED)
    parser.add_argument("--samples", action="store_true",
                        help="write the bundled demo ledger into sample_data/ledger")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    if args.samples:
        result = write_sample_ledger(args.out or root / "sample_data" / "ledger",
                                     root / "sample_data" / "era")
    elif args.out:
        result = write_test_set(args.out, planted=not args.clean, seed=args.seed)
    else:
        parser.error("give --out DIR or --samples")
    counts: dict[str, int] = {}
    for f in result.findings:
        counts[f"{f.suite}.{f.check}"] = counts.get(f"{f.suite}.{f.check}", 0) + 1
    json.dump(counts, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
