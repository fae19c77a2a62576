"""The posting-ledger feed: practice management exports into ``raw.ledger_*``.

Practices export the transactions they posted (payments, write-offs, transfers,
reversals, recoupments) as CSV files; dbt reconciles them with the 835s (the models in
``dbt_project/models/reconciliation/``) and the ``ledger_reconciliation`` suite turns
every misposting into a finding. ``docs/LEDGER.md`` is the contract: the columns, which
are required, the values each takes and how a row is matched to the ERA.

A ledger folder holds ledger files (every ``*.csv``) and the practice's adjustment-code
map, ``local_codes.csv``, unless another map is named. Each ledger file loads the way an
835 does (``etl.loader``): one database transaction per file, so either every row lands
with its manifest row or none does; a file whose bytes were loaded before is skipped; a
file that breaks the contract is rejected with the line and the column named (never a
value), copied (moved, from SFTP) to the quarantine folder with its reason beside it, and
the rest of the batch goes on. The map is validated first and stored per load: each
ledger file is read with the map it was validated against (``raw.ledger_codes``).

Money is ``Decimal`` from the CSV text to ``decimal(18,2)`` in the warehouse: amounts are
checked as text, quantized as decimals and written as text that the database casts.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from etl.loader import LOADED, REJECTED, SKIPPED, FileResult, IngestReport
from etl.warehouse import Warehouse

log = logging.getLogger(__name__)

CODE_MAP_NAME = "local_codes.csv"
LEDGER_SFTP_CONN_ID = "eraflow_cli_ledger_sftp"
SEEDS_DIR = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds"
CENT = Decimal("0.01")

# (column, type, value required on every row). Every column must be in the header; the
# optional ones may be left out of it. Further requirements depend on the row's kind.
LEDGER_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("ledger_txn_id", "text", True),
    ("source_system", "text", True),
    ("posted_date", "date", True),
    ("deposit_date", "date", False),
    ("patient_control_number", "text", False),  # required on claim rows
    ("payer_claim_control_number", "text", False),
    ("original_payer_claim_control_number", "text", False),
    ("payer_id", "text", False),  # required on payer rows
    ("trace_payer_id", "text", False),
    ("trace_number", "text", False),  # required on payer rows
    ("service_line_ref", "text", False),
    ("procedure_code", "text", False),
    ("modifiers", "text", False),
    ("service_date", "date", False),
    ("responsibility_seq", "enum", True),
    ("txn_type", "enum", True),
    ("amount", "money", True),
    ("group_code", "enum", False),
    ("carc", "text", False),
    ("rarc", "text", False),
    ("local_adj_code", "text", False),  # or group_code + carc, on write-off rows
    ("posted_by", "text", False),
    ("reversal_of_txn_id", "text", False),
    ("era_file_ref", "text", False),
)
REQUIRED_HEADER = (
    "ledger_txn_id", "source_system", "posted_date", "patient_control_number", "payer_id",
    "trace_number", "responsibility_seq", "txn_type", "amount",
)
CODE_MAP_COLUMNS = ("local_adj_code", "category", "is_contractual", "is_denial_writeoff",
                    "description")
CODE_MAP_REQUIRED = CODE_MAP_COLUMNS[:4]

RESPONSIBILITY = ("P", "S", "T", "PT")  # primary, secondary, tertiary payer; patient
PAYER_SEQS = ("P", "S", "T")
GROUP_CODES = ("CO", "PR", "OA", "PI", "CR")
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
# Money: an optional minus, digits, at most two decimal places that are not zero (so the
# cast to decimal(18,2) keeps every cent), no thousands separators or currency signs.
_AMOUNT = re.compile(r"-?(\d{1,15}(\.\d*)?|\.\d+)")
_CENTS = re.compile(r"-?\d*(\.\d{0,2}0*)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MODIFIER_SPLIT = re.compile(r"[:,;\s]+")


class LedgerSourceError(FileNotFoundError):
    """The ledger source cannot be used as given (a missing folder or code map)."""


class _Rejection(Exception):
    """A file breaks the contract; ``reason`` names the line and column, never a value."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class LedgerFileResult(FileResult):
    """A ledger file (or code map) and what became of it."""

    kind: str = "ledger"  # ledger or code_map
    rows: int = 0


@dataclass
class LedgerIngestReport(IngestReport):
    """What a ledger load did: ``results`` (and so ``loaded``, ``skipped``,
    ``rejected``) are the ledger files; ``code_map`` is the map they were read with."""

    code_map: LedgerFileResult | None = None
    code_map_ok: bool = True  # False when the map (new or seen before) breaks the contract


# --------------------------------------------------------------------------- the contract


@cache
def txn_types() -> dict[str, str]:
    """``txn_type`` -> posting kind (payment, writeoff, transfer, provider, other), from the
    seed dbt also reads, so that the reader and the models agree on the list."""
    with (SEEDS_DIR / "ledger_txn_types.csv").open(newline="", encoding="utf-8") as f:
        return {row["txn_type"]: row["posting_kind"] for row in csv.DictReader(f)}


@cache
def code_categories() -> dict[str, str]:
    """Every accepted spelling of a code-map category -> its canonical name.

    Both the project's names (``denial_medical_necessity``) and the names of
    ``carc_categories.csv`` (``denial-medical-necessity``, ``patient cost-share``) are
    accepted, compared with case, spaces, dashes and slashes ignored.
    """
    out: dict[str, str] = {}
    with (SEEDS_DIR / "ledger_code_categories.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            for spelling in (row["category"], row["carc_categories_name"]):
                if spelling:
                    out[_category_key(spelling)] = row["category"]
    return out


def _category_key(text: str) -> str:
    return re.sub(r"[\s/_-]+", "_", text.strip().lower())


def posting_kind(txn_type: str) -> str:
    return txn_types()[txn_type]


# --------------------------------------------------------------------------- CSV reading


@dataclass
class CodeMap:
    """A validated code map: its id (SHA-256 of its bytes) and its rows."""

    code_map_id: str
    name: str
    rows: list[dict[str, Any]]

    @property
    def codes(self) -> set[str]:
        return {r["local_adj_code"] for r in self.rows}


def _text(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _Rejection(f"{name}: line {line}: not UTF-8 text") from None


def _records(text: str, name: str, required: Iterable[str], known: Iterable[str]):
    """The header's column positions and ``(line number, {column: value})`` per record.

    Line numbers are those of the file (the header is line 1), counting the line a record
    starts on, so a quoted field that spans lines does not shift the numbers after it.
    Values are stripped; empty ones are None. Columns outside ``known`` are ignored.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise _Rejection(f"{name}: line 1: no header row")
        columns = [h.strip().lower() for h in header]
        for position, column in enumerate(columns):
            if column and column in columns[:position]:
                raise _Rejection(f"{name}: line 1, column {column}: appears twice in the header")
        for column in required:
            if column not in columns:
                raise _Rejection(f"{name}: line 1, column {column}: required column is missing")
        wanted = [(i, c) for i, c in enumerate(columns) if c in set(known)]

        records = []
        last = reader.line_num
        for fields in reader:
            start, last = last + 1, reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # a blank line
            if len(fields) != len(columns):
                raise _Rejection(f"{name}: line {start}: {len(fields)} fields, the header has "
                                 f"{len(columns)}")
            records.append((start, {c: (fields[i].strip() or None) for i, c in wanted}))
    except csv.Error as exc:
        problem = str(exc).split(":")[0]  # csv's messages hold no values before a colon
        raise _Rejection(f"{name}: line {reader.line_num}: not valid CSV ({problem})") from None
    return records


def _money(value: str) -> Decimal:
    if not _AMOUNT.fullmatch(value):
        raise ValueError("is not a number")
    if not _CENTS.fullmatch(value):
        raise ValueError("has more than two decimal places")
    return Decimal(value).quantize(CENT)


def _date(value: str) -> date:
    if not _DATE.fullmatch(value):
        raise ValueError("is not a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("is not a real calendar date") from None


def _flag(value: str) -> bool:
    text = value.lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("is not true or false")


def read_code_map(data: bytes, name: str = CODE_MAP_NAME) -> CodeMap:
    """Validate a code map (``local_adj_code, category, is_contractual,
    is_denial_writeoff, description``); raise ``_Rejection`` naming line and column."""
    categories = code_categories()
    rows, seen = [], set()
    for line, rec in _records(_text(data, name), name, CODE_MAP_REQUIRED, CODE_MAP_COLUMNS):
        def fail(column: str, problem: str) -> _Rejection:
            return _Rejection(f"{name}: line {line}, column {column}: {problem}")

        for column in CODE_MAP_REQUIRED:
            if rec.get(column) is None:
                raise fail(column, "is empty")
        code = rec["local_adj_code"]
        if code in seen:
            raise fail("local_adj_code", "the same code is listed twice")
        seen.add(code)
        category = categories.get(_category_key(rec["category"]))
        if category is None:
            raise fail("category", "is not a known category (see docs/LEDGER.md)")
        flags = {}
        for column in ("is_contractual", "is_denial_writeoff"):
            try:
                flags[column] = _flag(rec[column])
            except ValueError as exc:
                raise fail(column, str(exc)) from None
        if flags["is_contractual"] and flags["is_denial_writeoff"]:
            raise fail("is_denial_writeoff", "a code cannot be both contractual and a denial "
                                             "write-off")
        rows.append({
            "line_number": line, "local_adj_code": code, "category": category,
            "category_as_sent": rec["category"], **flags, "description": rec.get("description"),
        })
    if not rows:
        raise _Rejection(f"{name}: no codes")
    return CodeMap(_sha256(data), name, rows)


def read_ledger(data: bytes, name: str, codes: set[str]) -> list[dict[str, Any]]:
    """Validate every row of a ledger file; the first problem rejects the whole file."""
    kinds = txn_types()
    known = [c for c, _, _ in LEDGER_COLUMNS]
    rows, txn_ids = [], set()
    for line, rec in _records(_text(data, name), name, REQUIRED_HEADER, known):
        def fail(column: str, problem: str) -> _Rejection:
            return _Rejection(f"{name}: line {line}, column {column}: {problem}")

        row: dict[str, Any] = {"line_number": line}
        for column, kind, required in LEDGER_COLUMNS:
            value = rec.get(column)
            if value is None:
                if required:
                    raise fail(column, "is empty")
                row[column] = None
                continue
            try:
                if kind == "date":
                    row[column] = _date(value)
                elif kind == "money":
                    row[column] = _money(value)
                elif kind == "enum":
                    row[column] = value.upper()
                else:
                    row[column] = value
            except ValueError as exc:
                raise fail(column, str(exc)) from None

        if row["txn_type"] not in kinds:
            raise fail("txn_type", f"is not one of {', '.join(kinds)}")
        if row["responsibility_seq"] not in RESPONSIBILITY:
            raise fail("responsibility_seq", f"is not one of {', '.join(RESPONSIBILITY)}")
        if row["group_code"] is not None and row["group_code"] not in GROUP_CODES:
            raise fail("group_code", f"is not one of {', '.join(GROUP_CODES)}")
        if row["carc"] is not None:
            row["carc"] = row["carc"].upper()
        if row["carc"] and not row["group_code"]:
            raise fail("group_code", "is empty but carc is given (a CARC needs its group)")
        if row["group_code"] and not row["carc"]:
            raise fail("carc", "is empty but group_code is given")
        if row["modifiers"] is not None:
            row["modifiers"] = ":".join(m.upper() for m in _MODIFIER_SPLIT.split(
                row["modifiers"]) if m) or None

        kind = kinds[row["txn_type"]]
        if kind in ("payment", "writeoff", "transfer") and not row["patient_control_number"]:
            raise fail("patient_control_number", f"is empty on a {row['txn_type']} row")
        if row["responsibility_seq"] in PAYER_SEQS and kind in (
                "payment", "writeoff", "transfer", "provider"):
            for column in ("trace_number", "payer_id"):
                if not row[column]:
                    raise fail(column, f"is empty on a payer's {row['txn_type']} row")
        if kind == "writeoff" and not (row["local_adj_code"] or row["carc"]):
            raise fail("local_adj_code", "is empty and no carc is given on a write-off row")
        if row["local_adj_code"] is not None and row["local_adj_code"] not in codes:
            raise fail("local_adj_code", "is not in the code map")
        if row["ledger_txn_id"] in txn_ids:
            raise fail("ledger_txn_id", "the same id is used twice in the file")
        txn_ids.add(row["ledger_txn_id"])
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- warehouse

DDL = (
    "create schema if not exists raw",
    # The manifest columns of raw.file_manifest, plus what a ledger file has instead of
    # interchanges and segments.
    """create table if not exists raw.ledger_manifest (
        file_id varchar(64) primary key,
        file_name varchar not null,
        source_uri varchar,
        size_bytes bigint,
        received_at timestamp,
        loaded_at timestamp,
        status varchar not null,
        error varchar,
        quarantine_path varchar,
        run_id varchar,
        file_kind varchar not null,
        row_count integer,
        code_map_id varchar(64)
    )""",
    """create table if not exists raw.ledger_rows (
        file_id varchar(64) not null,
        line_number integer not null,
        ledger_txn_id varchar not null,
        source_system varchar not null,
        posted_date date not null,
        deposit_date date,
        patient_control_number varchar,
        payer_claim_control_number varchar,
        original_payer_claim_control_number varchar,
        payer_id varchar,
        trace_payer_id varchar,
        trace_number varchar,
        service_line_ref varchar,
        procedure_code varchar,
        modifiers varchar,
        service_date date,
        responsibility_seq varchar not null,
        txn_type varchar not null,
        amount decimal(18, 2) not null,
        group_code varchar,
        carc varchar,
        rarc varchar,
        local_adj_code varchar,
        posted_by varchar,
        reversal_of_txn_id varchar,
        era_file_ref varchar
    )""",
    """create table if not exists raw.ledger_codes (
        code_map_id varchar(64) not null,
        line_number integer not null,
        local_adj_code varchar not null,
        category varchar not null,
        category_as_sent varchar,
        is_contractual boolean not null,
        is_denial_writeoff boolean not null,
        description varchar
    )""",
)
_PG_INDEXES = (
    "create index if not exists ledger_rows_file_idx on raw.ledger_rows (file_id)",
    "create index if not exists ledger_codes_map_idx on raw.ledger_codes (code_map_id)",
)
_ROW_COLUMNS = ["file_id", "line_number"] + [c for c, _, _ in LEDGER_COLUMNS]
_MANIFEST_COLUMNS = (
    "file_id", "file_name", "source_uri", "size_bytes", "received_at", "loaded_at", "status",
    "error", "quarantine_path", "run_id", "file_kind", "row_count", "code_map_id",
)


def ensure_schema(con, kind: str) -> None:
    """Create the raw ledger tables if they are missing (safe to re-run)."""
    cur = _cursor(con)
    for stmt in DDL:
        cur.execute(stmt)
    if kind == "postgres":
        for stmt in _PG_INDEXES:
            cur.execute(stmt)
    con.commit()


def _cursor(con):
    """DuckDB statements run on the connection itself (as in etl.loader)."""
    return con if hasattr(con, "begin") else con.cursor()


def _begin(con, kind: str) -> None:
    if kind == "duckdb":
        con.begin()


def _param(kind: str) -> str:
    return "?" if kind == "duckdb" else "%s"


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _one_line(name: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in name)


def _seen(con, kind: str, file_id: str) -> tuple[str, str | None] | None:
    cur = _cursor(con)
    cur.execute(f"select status, code_map_id from raw.ledger_manifest where file_id = "
                f"{_param(kind)}", (file_id,))
    row = cur.fetchone()
    return (row[0], row[1]) if row else None


def _write_manifest(con, kind: str, values: dict[str, Any]) -> None:
    p = _param(kind)
    cur = _cursor(con)
    cur.execute(f"delete from raw.ledger_manifest where file_id = {p}", (values["file_id"],))
    cur.execute(
        f"insert into raw.ledger_manifest ({', '.join(_MANIFEST_COLUMNS)}) "
        f"values ({', '.join([p] * len(_MANIFEST_COLUMNS))})",
        [values.get(c) for c in _MANIFEST_COLUMNS],
    )


def _csv_cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return value.isoformat() if isinstance(value, date) else str(value)


def _copy_rows(con, kind: str, table: str, columns: list[str], rows: list[list[Any]]) -> None:
    """Bulk-insert rows as CSV text the database parses into the table's types, so money
    goes from Decimal to decimal(18,2) through its exact text. Nulls are empty, unquoted
    fields; every value is quoted."""
    if not rows:
        return
    buf = io.StringIO()
    for row in rows:
        cells = (_csv_cell(v) for v in row)
        buf.write(",".join("" if c is None else '"' + c.replace('"', '""') + '"'
                           for c in cells) + "\n")
    if kind == "postgres":
        buf.seek(0)
        con.cursor().copy_expert(
            f"copy {table} ({', '.join(columns)}) from stdin with (format csv)", buf)
        return
    with tempfile.TemporaryDirectory(prefix="eraflow-ledger-") as tmp:
        path = Path(tmp) / "rows.csv"
        path.write_text(buf.getvalue(), encoding="utf-8")
        literal = "'" + str(path).replace("'", "''") + "'"
        con.execute(
            f"insert into {table} ({', '.join(columns)}) select {', '.join(columns)} from "
            f"read_csv({literal}, header = false, auto_detect = false, "
            f"columns = {_duckdb_columns(con, table, columns)}, quote = '\"', "
            f"escape = '\"', allow_quoted_nulls = false)"
        )


def _duckdb_columns(con, table: str, columns: list[str]) -> str:
    schema, name = table.split(".")
    types = dict(con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ?", [schema, name]).fetchall())
    return "{" + ", ".join(f"'{c}': '{types[c]}'" for c in columns) + "}"


# --------------------------------------------------------------------------- loading


@dataclass
class _Source:
    name: str
    uri: str
    data: bytes
    path: Path


def _quarantine(src: _Source, file_id: str, reason: str, quarantine_dir: Path | None,
                move: bool) -> str | None:
    """Put a rejected file aside with its reason, as etl.loader does with an 835."""
    if quarantine_dir is None:
        return None
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    target = quarantine_dir / f"{file_id[:12]}_{src.name.replace('/', '_')}"
    if move and src.path.exists():
        shutil.move(str(src.path), target)
    else:
        target.write_bytes(src.data)
    target.with_name(target.name + ".reason.txt").write_text(reason + "\n")
    return str(target)


def _load_code_map(con, kind: str, src: _Source, run_id: str, got: datetime,
                   quarantine_dir: Path | None, move: bool
                   ) -> tuple[CodeMap | None, LedgerFileResult]:
    """Validate and store the code map once per distinct content."""
    file_id = _sha256(src.data)
    try:
        code_map = read_code_map(src.data, _one_line(src.name))
    except _Rejection as exc:
        seen = _seen(con, kind, file_id)
        if seen:
            return None, LedgerFileResult(file_id, src.name, SKIPPED, exc.reason, kind="code_map")
        where = _quarantine(src, file_id, exc.reason, quarantine_dir, move)
        _begin(con, kind)
        _write_manifest(con, kind, dict(
            file_id=file_id, file_name=src.name, source_uri=src.uri, size_bytes=len(src.data),
            received_at=got, status=REJECTED, error=exc.reason, quarantine_path=where,
            run_id=run_id, file_kind="code_map"))
        con.commit()
        log.warning("code map %s rejected: %s", file_id[:12], exc.reason)
        return None, LedgerFileResult(file_id, src.name, REJECTED, exc.reason, kind="code_map")

    if _seen(con, kind, file_id):
        return code_map, LedgerFileResult(file_id, src.name, SKIPPED, "already loaded",
                                          kind="code_map", rows=len(code_map.rows))
    _begin(con, kind)
    try:
        _copy_rows(con, kind, "raw.ledger_codes",
                   ["code_map_id", "line_number", "local_adj_code", "category",
                    "category_as_sent", "is_contractual", "is_denial_writeoff", "description"],
                   [[file_id, r["line_number"], r["local_adj_code"], r["category"],
                     r["category_as_sent"], str(r["is_contractual"]).lower(),
                     str(r["is_denial_writeoff"]).lower(), r["description"]]
                    for r in code_map.rows])
        _write_manifest(con, kind, dict(
            file_id=file_id, file_name=src.name, source_uri=src.uri, size_bytes=len(src.data),
            received_at=got, loaded_at=_now(), status=LOADED, run_id=run_id,
            file_kind="code_map", row_count=len(code_map.rows), code_map_id=file_id))
        con.commit()
    except Exception:
        con.rollback()
        raise
    log.info("code map %s (%s) loaded: %d codes", file_id[:12], src.name, len(code_map.rows))
    return code_map, LedgerFileResult(file_id, src.name, LOADED, kind="code_map",
                                      rows=len(code_map.rows))


def _load_ledger_file(con, kind: str, src: _Source, code_map: CodeMap | None,
                      map_problem: str | None, map_id: str | None, run_id: str, got: datetime,
                      quarantine_dir: Path | None, move: bool) -> LedgerFileResult:
    file_id = _sha256(src.data)
    name = _one_line(src.name)
    seen = _seen(con, kind, file_id)
    if seen and (seen[0] == LOADED or seen[1] == map_id):
        log.info("ledger file %s (%s) already %s; skipped", file_id[:12], name, seen[0])
        return LedgerFileResult(file_id, src.name, SKIPPED, f"already {seen[0]}")

    try:
        if code_map is None:
            raise _Rejection(f"{name}: not read: the code map was rejected ({map_problem})")
        rows = read_ledger(src.data, name, code_map.codes)
    except _Rejection as exc:
        where = _quarantine(src, file_id, exc.reason, quarantine_dir, move)
        _begin(con, kind)
        _write_manifest(con, kind, dict(
            file_id=file_id, file_name=src.name, source_uri=src.uri, size_bytes=len(src.data),
            received_at=got, status=REJECTED, error=exc.reason, quarantine_path=where,
            run_id=run_id, file_kind="ledger", code_map_id=map_id))
        con.commit()
        log.warning("ledger file %s rejected: %s", file_id[:12], exc.reason)
        return LedgerFileResult(file_id, src.name, REJECTED, exc.reason)

    _begin(con, kind)
    try:
        _copy_rows(con, kind, "raw.ledger_rows", _ROW_COLUMNS,
                   [[file_id] + [row[c] for c in _ROW_COLUMNS[1:]] for row in rows])
        _write_manifest(con, kind, dict(
            file_id=file_id, file_name=src.name, source_uri=src.uri, size_bytes=len(src.data),
            received_at=got, loaded_at=_now(), status=LOADED, run_id=run_id,
            file_kind="ledger", row_count=len(rows), code_map_id=map_id))
        con.commit()
    except Exception:
        con.rollback()
        raise
    total = sum((r["amount"] for r in rows), Decimal("0.00"))
    log.info("ledger file %s (%s) loaded: %d rows, net $%s", file_id[:12], name, len(rows),
             total)
    return LedgerFileResult(file_id, src.name, LOADED, rows=len(rows))


def ingest_ledger_paths(
    paths: Iterable[Path],
    wh: Warehouse,
    code_map: Path,
    quarantine_dir: Path | None = None,
    run_id: str | None = None,
    move_rejected: bool = False,
    source_uris: dict[Path, str] | None = None,
) -> LedgerIngestReport:
    """Load ledger CSV files with the code map ``code_map`` into ``raw.ledger_*``.

    The map is validated and stored first; if it is rejected, every ledger file of the
    batch is rejected with that reason (and tried again once a corrected map is given).
    Each ledger file then loads in its own transaction, or is rejected as a whole.
    """
    run_id = run_id or f"run-{uuid.uuid4().hex[:12]}"
    report = LedgerIngestReport(run_id)
    uris = source_uris or {}

    def source(path: Path) -> _Source:
        return _Source(path.name, uris.get(path, str(path.resolve())), path.read_bytes(), path)

    ledger_files = [Path(p) for p in paths]
    with wh.connect() as con:
        ensure_schema(con, wh.kind)
        map_src = source(Path(code_map))
        loaded_map, map_result = _load_code_map(con, wh.kind, map_src, run_id, _now(),
                                                quarantine_dir, move=False)
        report.code_map = map_result
        report.code_map_ok = loaded_map is not None
        problem = None if loaded_map else map_result.reason
        for path in ledger_files:
            report.results.append(_load_ledger_file(
                con, wh.kind, source(path), loaded_map, problem, map_result.file_id, run_id,
                _now(), quarantine_dir, move_rejected))

    log.info("run %s: ledger files %d loaded, %d skipped, %d rejected", run_id,
             len(report.loaded), len(report.skipped), len(report.rejected))
    return report


def local_ledger_files(source: Path, code_map_name: str = CODE_MAP_NAME) -> list[Path]:
    """The ledger files of a folder (every ``*.csv`` but the code map; not recursive,
    hidden files left out), or the one file named."""
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise LedgerSourceError(f"ledger source {source} does not exist")
    return sorted(p for p in source.iterdir()
                  if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() == ".csv" and p.name != code_map_name)


def _code_map_for(folder: Path, ledger_map: str | os.PathLike | None) -> Path:
    path = Path(ledger_map) if ledger_map else folder / CODE_MAP_NAME
    if not path.is_file():
        raise LedgerSourceError(
            f"code map {path} does not exist: put {CODE_MAP_NAME} in the ledger folder or "
            f"pass --ledger-map FILE")
    return path


def ingest_ledger_source(
    source: str,
    wh: Warehouse,
    data_dir: Path,
    run_id: str | None = None,
    ledger_map: str | os.PathLike | None = None,
) -> LedgerIngestReport:
    """Load every new ledger file of a local folder (or one file) or an ``sftp://`` folder.

    ``ledger_map`` names the code map; by default it is ``local_codes.csv`` in the ledger
    folder (on SFTP: in the remote folder; it is fetched each run and never archived).
    Local rejected files are copied to ``<data_dir>/quarantine``; SFTP downloads are moved
    there, and each handled remote ledger file is moved into the folder's archive.
    """
    quarantine = data_dir / "quarantine"
    if not source.startswith("sftp://"):
        path = Path(source)
        files = local_ledger_files(path)
        if not files:
            log.info("ledger source %s holds no ledger files", path)
            return LedgerIngestReport(run_id or f"run-{uuid.uuid4().hex[:12]}")
        folder = path if path.is_dir() else path.parent
        code_map = _code_map_for(folder, ledger_map)
        files = [f for f in files if f.resolve() != code_map.resolve()]
        return ingest_ledger_paths(files, wh, code_map, quarantine_dir=quarantine,
                                   run_id=run_id)

    from etl import sftp

    with sftp.sftp_connection_env(source, LEDGER_SFTP_CONN_ID) as remote:
        pattern = "*.csv" if remote.pattern == sftp.DEFAULT_PATTERN else remote.pattern
        return fetch_and_ingest_ledger(
            wh, data_dir, run_id, conn_id=LEDGER_SFTP_CONN_ID, inbox=remote.inbox,
            archive_dir=remote.archive_dir, pattern=pattern, ledger_map=ledger_map,
            uri_prefix=f"sftp://{remote.host}:{remote.port}")


def ledger_settings_from_env() -> dict[str, Any] | None:
    """The DAG's ledger folder settings, or None when ``ERAFLOW_LEDGER_SFTP_INBOX`` is unset
    (no ledger feed: the task does nothing)."""
    inbox = os.environ.get("ERAFLOW_LEDGER_SFTP_INBOX", "").strip()
    if not inbox:
        return None
    return {
        "conn_id": os.environ.get("ERAFLOW_LEDGER_SFTP_CONN_ID")
        or os.environ.get("ERAFLOW_SFTP_CONN_ID", "sftp_era"),
        "inbox": inbox,
        "archive_dir": os.environ.get("ERAFLOW_LEDGER_SFTP_ARCHIVE", "archive"),
        "pattern": os.environ.get("ERAFLOW_LEDGER_SFTP_PATTERN", "*.csv"),
        "ledger_map": os.environ.get("ERAFLOW_LEDGER_MAP") or None,
    }


def fetch_and_ingest_ledger(
    wh: Warehouse,
    data_dir: Path,
    run_id: str | None,
    *,
    conn_id: str,
    inbox: str,
    archive_dir: str = "archive",
    pattern: str = "*.csv",
    ledger_map: str | os.PathLike | None = None,
    uri_prefix: str | None = None,
) -> LedgerIngestReport:
    """Fetch the ledger folder of an SFTP server, load it, archive the handled files.

    The code map (``local_codes.csv`` in the folder, unless ``ledger_map`` names a local
    file) is read every run and left on the server. If loading fails, or the code map is
    rejected, nothing is archived and the next run retries; already loaded files (and
    files rejected under the same map) are then skipped by their hash.
    """
    from etl import sftp

    run_id = run_id or f"run-{uuid.uuid4().hex[:12]}"
    hook = sftp.open_hook(conn_id)
    landing = data_dir / "landing" / f"ledger-{re.sub(r'[^A-Za-z0-9_.-]+', '_', run_id)}"
    fetched = sftp.fetch_new_files(landing, conn_id=conn_id, inbox=inbox, pattern=pattern,
                                   hook=hook)
    prefix = uri_prefix or f"sftp://{hook.remote_host}:{hook.port}"
    maps = [f for f in fetched if Path(f.remote_path).name == CODE_MAP_NAME]
    ledgers = [f for f in fetched if f not in maps]
    try:
        if not ledgers:
            return LedgerIngestReport(run_id)
        if ledger_map:
            code_map = _code_map_for(landing, ledger_map)
        elif maps:
            code_map = Path(maps[0].local_path)
        else:
            raise LedgerSourceError(
                f"no {CODE_MAP_NAME} in the SFTP folder {inbox}: put the code map there or "
                f"pass --ledger-map FILE")
        paths = [Path(f.local_path) for f in ledgers]
        uris = {Path(f.local_path): f"{prefix}{f.remote_path}" for f in ledgers}
        report = ingest_ledger_paths(paths, wh, code_map, quarantine_dir=data_dir / "quarantine",
                                     run_id=run_id, move_rejected=True, source_uris=uris)
        # Handled files are archived, so each is fetched once. But a rejected code map
        # rejects the ledger files through no fault of theirs: they stay in the folder
        # (skipped by hash while the map is the same) and load once a corrected map comes.
        if not report.code_map_ok:
            log.warning("code map rejected: %d ledger file(s) left in %s for a corrected map",
                        len(ledgers), inbox)
        else:
            sftp.archive_files([f.remote_path for f in ledgers], conn_id=conn_id, inbox=inbox,
                               archive_dir=archive_dir, hook=hook)
        return report
    finally:
        for f in fetched:
            Path(f.local_path).unlink(missing_ok=True)
        shutil.rmtree(landing, ignore_errors=True)


def run_ledger_task(wh: Warehouse, data_dir: Path, run_id: str) -> dict[str, Any]:
    """The DAG's ledger task: fetch and load the ledger SFTP folder named by
    ``ERAFLOW_LEDGER_SFTP_*`` (see ``ledger_settings_from_env``); nothing when unset.

    Like the 835 load, a rejected file does not fail the task (it is in the manifest and
    in quarantine); a missing code map or an unreachable server does.
    """
    settings = ledger_settings_from_env()
    if settings is None:
        log.info("no ledger folder configured (ERAFLOW_LEDGER_SFTP_INBOX); nothing to load")
        return {"configured": False}
    report = fetch_and_ingest_ledger(
        wh, data_dir, run_id, conn_id=settings["conn_id"], inbox=settings["inbox"],
        archive_dir=settings["archive_dir"], pattern=settings["pattern"],
        ledger_map=settings["ledger_map"])
    return {"configured": True, **report_dict(report)}


def report_dict(report: IngestReport) -> dict[str, Any]:
    """A ledger ingest report for XCom and logs: counts and names, no content."""
    code_map = getattr(report, "code_map", None)
    return {
        "loaded": len(report.loaded),
        "skipped": len(report.skipped),
        "rejected": len(report.rejected),
        "rows": sum(getattr(r, "rows", 0) for r in report.loaded),
        "rejected_files": [r.name for r in report.rejected],
        "code_map": code_map.status if code_map else None,
    }


def report_lines(report: IngestReport) -> list[str]:
    """What ``eraflow run --ledger`` prints after loading."""
    counts = report_dict(report)
    out = [f"ledger: {counts['loaded']} loaded ({counts['rows']} rows), "
           f"{counts['skipped']} already loaded, {counts['rejected']} rejected"]
    code_map = getattr(report, "code_map", None)
    if code_map is not None and not getattr(report, "code_map_ok", True):
        out.append(f"  code map {code_map.reason}")
    out.extend(f"  rejected {r.reason}" for r in report.rejected)
    return out


def has_problems(report: IngestReport) -> bool:
    """True when a ledger file or the code map was rejected, now or before (the CLI exits
    3): a map seen and rejected before is skipped, but still unusable."""
    return bool(report.rejected) or not getattr(report, "code_map_ok", True)


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class CheckFigure:
    """One check of a run as the summary shows it: no rows or keys, only counts and dollars."""

    suite_name: str
    expectation_name: str
    status: str
    unexpected_count: int | None  # None when the check could not count (status error)
    unexpected_amount: Decimal

    @property
    def name(self) -> str:
        return f"{self.suite_name}.{self.expectation_name}"

    def to_dict(self) -> dict[str, Any]:
        """For XCom: the amount as text, so no float ever holds it."""
        return {"suite": self.suite_name, "check": self.expectation_name,
                "status": self.status, "rows": self.unexpected_count,
                "amount": str(self.unexpected_amount)}


def check_figures(wh: Warehouse, run_id: str | None = None) -> list[CheckFigure]:
    """Every check of a run (the latest when ``run_id`` is None) from ``dq.check_results``,
    in suite and check order; empty when the checks have not run."""
    if run_id is None:
        latest = _query(wh, "select run_id from dq.check_results order by checked_at desc "
                            "limit 1")
        run_id = latest[0][0] if latest else None
    if run_id is None:
        return []
    rows = _query(
        wh,
        "select suite_name, expectation_name, status, unexpected_count, unexpected_amount "
        f"from dq.check_results where run_id = {_param(wh.kind)} "
        "order by suite_name, expectation_name",
        (run_id,),
    )
    return [CheckFigure(suite, name, status, None if count is None else int(count),
                        Decimal(amount or 0).quantize(CENT))
            for suite, name, status, count, amount in rows or []]


def ledger_lines(wh: Warehouse) -> list[str]:
    """The ledger's figures (files, rows, claims reconciled); empty when none was loaded."""
    out: list[str] = []
    rows = _query(wh, "select sum(case when status = 'loaded' then 1 else 0 end), "
                      "sum(case when status = 'rejected' then 1 else 0 end), "
                      "sum(case when status = 'loaded' then row_count else 0 end) "
                      "from raw.ledger_manifest where file_kind = 'ledger'")
    if rows and rows[0][0] is not None:
        loaded, rejected, n_rows = (int(v or 0) for v in rows[0])
        out.append(f"ledger files loaded       {loaded} ({n_rows} rows), {rejected} rejected")
        rec = _query(wh, "select count(*), sum(case when is_reconciled then 1 else 0 end) "
                         "from marts.rec_claims")
        if rec:
            out.append(f"claims reconciled         {int(rec[0][1] or 0)} of {int(rec[0][0] or 0)}"
                       " ERA claims (in payments the ledger posted)")
    return out


def check_lines(figures: list[CheckFigure]) -> list[str]:
    """A heading and one line per check: status, name, rows found, dollars at stake."""
    if not figures:
        return []
    width = max(len(f.name) for f in figures)
    out = ["checks (status, rows found, dollars at stake):"]
    for f in figures:
        shown = "-" if f.unexpected_count is None else str(f.unexpected_count)
        out.append(f"  {f.status:8} {f.name:{width}} {shown:>5}  ${f.unexpected_amount:,.2f}")
    return out


def summary_lines(wh: Warehouse, run_id: str | None = None) -> list[str]:
    """Each check of a run with its status, count and dollars, and the ledger's figures.

    For the end of ``eraflow run`` and the DAG's summary task. Reads ``dq.check_results``
    (the latest run when ``run_id`` is None) and the ledger marts; anything missing (no
    ledger loaded, checks not run) is left out.
    """
    return ledger_lines(wh) + check_lines(check_figures(wh, run_id))


def _query(wh: Warehouse, sql: str, params: tuple = ()) -> list[tuple] | None:
    try:
        with wh.connect() as con:
            cur = con.cursor()
            cur.execute(sql, params)
            return cur.fetchall()
    except Exception as exc:  # a stage not run yet: its tables are missing
        log.debug("summary query failed: %s", type(exc).__name__)
        return None
