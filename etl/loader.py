"""Raw load: ERA files into ``raw.file_manifest``, ``raw.segments``,
``raw.file_findings`` and ``raw.payment_keys``.

Each file is loaded in one database transaction: either every segment of it
lands, with its manifest row, or nothing does and the manifest records why.
A file whose bytes were seen before (same SHA-256) is skipped, so a re-delivered
file or a re-run never doubles money.

How a file goes in, and why this way (``bench/profile_loader.py`` times each step):

1. Python finds the interchanges and their delimiters and gives every segment its
   loop context with numpy running counts (``etl.x12.index_segments``). A window
   function in SQL does the same work twenty times slower, and a Python loop over
   segments slower still.
2. DuckDB cuts the text into segments and elements (``string_split``) and pairs the
   i-th segment with the i-th row of the index (a positional join). On a DuckDB
   warehouse these rows go straight into ``raw.segments``, inside the file's
   transaction; for PostgreSQL they go into a private in-memory DuckDB and from there,
   as CSV, through ``COPY`` into ``raw.segments``: the server only stores rows.
3. The checks that make a file unloadable run on those rows before the commit (the
   money and date elements the marts cast, in SQL; the envelope and loop structure,
   on the index), so a rejected file is rolled back and leaves nothing behind. The
   same SQL, in DuckDB, checks the rows for both warehouses: one rule, never two.
4. Envelope findings and the manifest counts come from the index; the duplicate
   payment check looks this file's payment keys up in ``raw.payment_keys`` (one row
   per 835 transaction) instead of scanning every segment ever loaded.

Storing the rows is most of the cost on DuckDB (compressing sixteen columns of
420 000 rows per 10 MB takes about a second of CPU); everything else is kept small
beside it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import logging
import re
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from etl.warehouse import Warehouse
from etl.x12 import (
    KIND,
    LOOP_NAMES,
    SegmentIndex,
    X12FormatError,
    clean_body,
    decode,
    index_segments,
    split_interchanges,
)

log = logging.getLogger(__name__)

LOADED = "loaded"
REJECTED = "rejected"
SKIPPED = "skipped"

# Numbers the marts cast to decimal(18,2): (segment, element, required, is money).
# Money must not round in that cast; quantities (units) may.
_MONEY = [
    ("BPR", 2, True, True), ("CLP", 3, True, True), ("CLP", 4, True, True),
    ("CLP", 5, False, True), ("SVC", 2, False, True), ("SVC", 3, False, True),
    ("SVC", 5, False, False), ("SVC", 7, False, False), ("AMT", 2, True, True),
    ("QTY", 2, False, False),
]
# CAS: amount of each triplet is required when its reason code is present.
_CAS_TRIPLETS = [(2 + 3 * k, 3 + 3 * k, 4 + 3 * k) for k in range(6)]
# PLB: PLB03/04 ... PLB13/14, reason composite then amount.
_PLB_PAIRS = [(3 + 2 * k, 4 + 2 * k) for k in range(6)]
# An X12 decimal (R): an optional minus, digits with an optional decimal point, at
# least one digit. The marts cast to decimal(18,2), so at most 15 significant digits
# before the point (999...9.995 rounds up and must still fit); more decimals round.
_DECIMAL = r"-?((0*[1-9][0-9]{0,14}|0+)(\.[0-9]*)?|\.[0-9]+)"
# Money: the same, with no more than two decimal places that are not zero, so that the
# cast keeps every cent (100.005 would silently become 100.01).
_AMOUNT = r"-?((0*[1-9][0-9]{0,14}|0+)(\.[0-9]{0,2}0*)?|\.[0-9]{1,2}0*)"
# Elements of a CAS with six triplets (CAS01-19) and of a PLB with six pairs (PLB01-14).
_CAS_MAX_ELEMENTS = 19
_PLB_MAX_ELEMENTS = 14
# What a count element must look like to be compared (it fits a bigint); else "nothing".
_COUNT = re.compile(r"[0-9]{1,18}")
# DuckDB's memory while loading: its buffer pool keeps every block it writes, which no
# later step of the load reads again, so unbounded it grows by about 6 MB per 10 MB file.
# A limit that follows the file being loaded keeps peak memory to the largest file.
_DUCKDB_MEMORY_FLOOR = 128 * 2**20
_DUCKDB_MEMORY_PER_BYTE = 4


@dataclass
class FileResult:
    file_id: str
    name: str
    status: str  # loaded, rejected or skipped
    reason: str = ""
    segments: int = 0
    claims: int = 0
    findings: int = 0


@dataclass
class IngestReport:
    run_id: str
    results: list[FileResult] = field(default_factory=list)

    def _with(self, status: str) -> list[FileResult]:
        return [r for r in self.results if r.status == status]

    @property
    def loaded(self) -> list[FileResult]:
        return self._with(LOADED)

    @property
    def rejected(self) -> list[FileResult]:
        return self._with(REJECTED)

    @property
    def skipped(self) -> list[FileResult]:
        return self._with(SKIPPED)


@dataclass
class _Source:
    """One file to load and where it came from. Its bytes are read when it is loaded
    (``data``) and let go once it is done with, so that only one file's text is held at
    a time; ``read`` reads them again should its transaction have to be redone."""

    name: str
    uri: str
    read: Callable[[], bytes]
    path: Path | None  # the file on disk, for quarantine (None for zip members)
    data: bytes = b""


class _Rejection(Exception):
    def __init__(self, reason: str, segment_pos: int | None = None,
                 segment_id: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.segment_pos = segment_pos
        self.segment_id = segment_id


_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}")


def _place(segment_pos: int | None, segment_id: str | None) -> str:
    """``segment 12 (CLP): `` for a rejection reason. The id is shown only when it is
    a well-formed segment id: anything else may be content (a name on a stray line)."""
    if segment_pos is None:
        return ""
    if segment_id and _SEGMENT_ID.fullmatch(segment_id):
        return f"segment {segment_pos} ({segment_id}): "
    return f"segment {segment_pos}: "


def _one_line(name: str) -> str:
    """A file name as it may appear in a one-line reason."""
    return "".join(c if c.isprintable() else "?" for c in name)


# --------------------------------------------------------------------------- dialects


class _Dialect:
    """What differs between the two warehouses.

    ``stage`` is the DuckDB connection that holds ``_seg``, a file's rows cut into a
    temp table (the slow path, and every file for PostgreSQL): the warehouse connection
    itself for DuckDB, a private in-memory DuckDB for PostgreSQL (the rows then travel by
    COPY). ``check`` is the DuckDB connection the quick checks run on before anything is
    written: a second connection for DuckDB, so that nothing it does can touch the
    transaction that small files share.
    """

    def __init__(self, kind: str, con=None):
        self.kind = kind
        self.param = "?" if kind == "duckdb" else "%s"
        self.array = "varchar[]" if kind == "duckdb" else "text[]"
        self.stage = self.check = None
        self._scratch: tempfile.TemporaryDirectory | None = None
        if con is None:
            return
        if kind == "duckdb":
            self.stage, self.check = con, con.cursor()
        else:
            import duckdb

            self.stage = self.check = duckdb.connect()
            self._scratch = tempfile.TemporaryDirectory(prefix="eraflow-copy-")

    @property
    def scratch(self) -> Path:
        """A private folder for the CSV a file's rows travel to PostgreSQL in."""
        assert self._scratch is not None
        return Path(self._scratch.name)

    def close(self) -> None:
        if self.check is not None:
            self.check.close()
        if self._scratch is not None:
            self._scratch.cleanup()


DDL = [
    "create schema if not exists raw",
    """create table if not exists raw.file_manifest (
        file_id varchar(64) primary key,
        file_name varchar not null,
        source_uri varchar,
        size_bytes bigint,
        received_at timestamp,
        loaded_at timestamp,
        status varchar not null,
        error varchar,
        quarantine_path varchar,
        interchange_count integer,
        transaction_count integer,
        claim_count integer,
        segment_count integer,
        x12_version varchar,
        run_id varchar
    )""",
    """create table if not exists raw.segments (
        file_id varchar(64) not null,
        segment_pos integer not null,
        interchange_seq integer,
        group_seq integer,
        transaction_seq integer,
        isa13 varchar,
        gs06 varchar,
        st02 varchar,
        transaction_set varchar,
        loop_id varchar,
        header_seq integer,
        claim_seq integer,
        line_seq integer,
        segment_id varchar not null,
        elements {array},
        component_sep varchar
    )""",
    """create table if not exists raw.file_findings (
        file_id varchar(64) not null,
        segment_pos integer,
        segment_id varchar,
        finding_code varchar not null,
        detail varchar
    )""",
]
# One row per 835 transaction of every loaded file: the keys DUPLICATE_PAYMENT compares.
_PAYMENT_KEYS_DDL = """create table if not exists raw.payment_keys (
        file_id varchar(64) not null,
        transaction_seq integer not null,
        segment_pos integer not null,
        segment_id varchar not null,
        trn02 varchar,
        trn03 varchar,
        isa06 varchar,
        isa13 varchar,
        st02 varchar
    )"""
_PG_INDEXES = [
    "create index if not exists segments_file_idx on raw.segments (file_id)",
    "create index if not exists findings_file_idx on raw.file_findings (file_id)",
    "create index if not exists payment_keys_trace_idx on raw.payment_keys (trn03, trn02)",
    "create index if not exists payment_keys_envelope_idx on raw.payment_keys "
    "(isa13, st02)",
]
# The payment keys of files loaded before raw.payment_keys existed, read back from their
# segments once: the keys of each 835 transaction as _payment_keys computes them.
_PAYMENT_KEYS_BACKFILL = """
insert into raw.payment_keys
with loaded as (
    select file_id from raw.file_manifest where status = 'loaded'
),

transactions as (
    select s.file_id, s.transaction_seq,
           min(s.segment_pos) as st_pos,
           max(s.interchange_seq) as interchange_seq,
           max(s.isa13) as isa13,
           max(s.st02) as st02
    from raw.segments as s
    where s.transaction_set = '835' and s.transaction_seq is not null
      and s.file_id in (select file_id from loaded)
    group by s.file_id, s.transaction_seq
),

traces as (
    select file_id, transaction_seq,
           min(segment_pos) as trn_pos,
           min(elements[2]) as trn02,
           min(elements[3]) as trn03
    from raw.segments
    where segment_id = 'TRN' and transaction_set = '835'
    group by file_id, transaction_seq
),

senders as (
    select file_id, interchange_seq, min(trim(elements[6])) as isa06
    from raw.segments
    where segment_id = 'ISA'
    group by file_id, interchange_seq
)

select
    t.file_id,
    t.transaction_seq,
    coalesce(r.trn_pos, t.st_pos),
    case when r.trn_pos is null then 'ST' else 'TRN' end,
    r.trn02,
    r.trn03,
    i.isa06,
    t.isa13,
    t.st02
from transactions as t
left join traces as r
    on r.file_id = t.file_id and r.transaction_seq = t.transaction_seq
left join senders as i
    on i.file_id = t.file_id and i.interchange_seq = t.interchange_seq
"""


def _table_exists(cur, schema: str, table: str) -> bool:
    cur.execute("select count(*) from information_schema.tables "
                f"where table_schema = '{schema}' and table_name = '{table}'")
    return cur.fetchone()[0] > 0


def ensure_schema(con, kind: str) -> None:
    """Create the raw schema and tables if they are missing (safe to re-run).

    A warehouse loaded before ``raw.payment_keys`` existed gets it filled from its
    segments, once, so that duplicate payments are still found against those files.
    """
    dialect = _Dialect(kind)
    cur = _cursor(con)
    for stmt in DDL:
        cur.execute(stmt.format(array=dialect.array))
    new_keys = not _table_exists(cur, "raw", "payment_keys")
    cur.execute(_PAYMENT_KEYS_DDL)
    if new_keys:
        cur.execute(_PAYMENT_KEYS_BACKFILL)
    if kind == "postgres":
        for stmt in _PG_INDEXES:
            cur.execute(stmt)
    con.commit()


# --------------------------------------------------------------------------- cutting

_SEGMENT_COLUMNS = (
    "file_id, segment_pos, interchange_seq, group_seq, transaction_seq, isa13, gs06, st02, "
    "transaction_set, loop_id, header_seq, claim_seq, line_seq, segment_id, elements, "
    "component_sep"
)
@dataclass
class _Envelope:
    """The few values of a file's envelope segments, read once from the index."""

    st01: list[str | None]  # by transaction (the k-th ST opens transaction k)
    st02: list[str | None]
    gs06: list[str | None]  # by group (the k-th GS opens group k)
    isa13: list[str | None]  # by interchange (index into SegmentIndex.interchanges)
    isa06: list[str | None]


@dataclass
class _Parsed:
    """A file as the loader holds it between cutting and writing."""

    index: SegmentIndex
    env: _Envelope
    is835: "np.ndarray"  # per segment: it belongs to an 835 transaction
    checked: "np.ndarray"  # per segment: a money or date segment of an 835
    in_seg: bool = False  # the rows wait in _seg (PostgreSQL, or the slow path) rather
    # than being in raw.segments already


def _envelope(index: SegmentIndex) -> _Envelope:
    sts, gss = index.where("ST"), index.where("GS")
    isa13, isa06 = [], []
    for k, ich in enumerate(index.interchanges):
        first = int(index.first[k])
        isa = ich.seq > 0 and index.kind[first] == KIND["ISA"]
        isa13.append(index.element(first, 13) if isa else None)
        sender = index.element(first, 6) if isa else None
        isa06.append(sender.strip(" ") if sender is not None else None)
    return _Envelope(
        st01=[index.element(int(i), 1) for i in sts],
        st02=[index.element(int(i), 2) for i in sts],
        gs06=[index.element(int(i), 6) for i in gss],
        isa13=isa13, isa06=isa06)


def _parse(data: bytes) -> _Parsed:
    import numpy as np

    index = index_segments(split_interchanges(decode(data)))
    env = _envelope(index)
    flags = np.array([False] + [v == "835" for v in env.st01], dtype=bool)
    is835 = flags[index.transaction_seq]
    checked = np.isin(index.kind, [KIND[seg] for seg in _good_patterns()]) & is835
    return _Parsed(index, env, is835, checked)


def _register(con, f: _Parsed, k: int) -> None:
    """Interchange ``k`` of the file as two relations for ``con``: ``_body`` (one row,
    its text) and ``_context`` (its rows of the index, numpy arrays: no copy)."""
    import numpy as np

    index, ich = f.index, f.index.interchanges[k]
    lo, hi = int(index.first[k]), int(index.first[k + 1])
    con.register("_context", {
        "ctx_pos": np.arange(lo + 1, hi + 1, dtype=np.int32),
        "group_seq": index.group_seq[lo:hi],
        "transaction_seq": index.transaction_seq[lo:hi],
        "header_seq": index.header_seq[lo:hi],
        "claim_seq": index.claim_seq[lo:hi],
        "line_seq": index.line_seq[lo:hi],
        "loop": index.loop[lo:hi],
        "kind": index.kind[lo:hi],
        "checked": f.checked[lo:hi],
    })
    con.register("_body", {"body": _object_array(clean_body(ich))})


def _unregister(con) -> None:
    con.unregister("_body")
    con.unregister("_context")


def _cut_sql(terminator: str, before: str) -> str:
    """The i-th segment of an interchange's body beside the i-th row of the index (the two
    cut the text on the same terminator, so they count the same segments); the
    parameters hold the terminator and the number of segments before the interchange."""
    return f"""
    with cut as (
        select
            unnest(segments) as segment,
            generate_subscripts(segments, 1) as ordinal
        from (select string_split(body, {terminator}) as segments from _body)
    ),

    placed as (
        select cut.ordinal + {before} as segment_pos, cut.segment, ctx.*
        from cut positional join _context as ctx
    )
"""

# One interchange's rows of raw.segments. Were the cut and the index ever out of step
# the statement fails rather than misplace a segment. Parameters: $1 file_id, $2
# terminator, $3 element separator, $4 segments before this interchange, $5
# interchange_seq, $6 isa13, $7 component separator, $8 GS06 of each group, $9 ST02 and
# $10 ST01 of each transaction (lists indexed by group_seq and transaction_seq; index 0,
# for null, gives null).
_SEGMENTS_SQL = _cut_sql("$2", "$4") + f"""
    select
        cast($1 as varchar) as file_id,
        cast(if(segment_pos = ctx_pos, segment_pos, error('segment index out of step'))
            as integer) as segment_pos,
        cast($5 as integer) as interchange_seq,
        nullif(group_seq, 0) as group_seq,
        nullif(transaction_seq, 0) as transaction_seq,
        cast($6 as varchar) as isa13,
        list_extract(cast($8 as varchar[]), group_seq) as gs06,
        list_extract(cast($9 as varchar[]), transaction_seq) as st02,
        list_extract(cast($10 as varchar[]), transaction_seq) as transaction_set,
        coalesce(list_extract({list(LOOP_NAMES)}, loop), parts[1]) as loop_id,
        nullif(header_seq, 0) as header_seq,
        nullif(claim_seq, -1) as claim_seq,
        nullif(line_seq, -1) as line_seq,
        parts[1] as segment_id,
        parts[2:] as elements,
        cast($7 as varchar) as component_sep
    from (select *, string_split(segment, $3) as parts from placed) as split
"""


@functools.lru_cache(maxsize=64)
def _quick_check_sql(element_sep: str) -> str:
    """How many money and date segments of an 835 in the interchange do not match their
    quick pattern (``_good_patterns``); no element is split. Parameters: the terminator,
    the number of segments before the interchange."""
    good = "\n".join(
        f"            when {KIND[seg]} then regexp_full_match(segment, "
        f"'{_sql_text(_segment_pattern(pattern, element_sep))}')"
        for seg, pattern in _good_patterns().items())
    return _cut_sql("$1", "$2") + f"""
    select count(*)
    from placed
    where checked and not (case kind
{good}
        end)
    """


def _quick_check(d: _Dialect, f: _Parsed) -> bool:
    """Whether every money and date element of the file's 835s is surely good: one
    regular expression per segment, on its text, before anything is written."""
    for k, ich in enumerate(f.index.interchanges):
        _register(d.check, f, k)
        try:
            suspects = d.check.execute(_quick_check_sql(ich.element_sep),
                                       [ich.segment_term, int(f.index.first[k])]
                                       ).fetchall()[0][0]
        finally:
            _unregister(d.check)
        if suspects:
            return False
    return True


def _stage(con, d: _Dialect, file_id: str, f: _Parsed, into_table: bool) -> None:
    """Cut the file into its rows of raw.segments: into the table itself (DuckDB, inside
    the open transaction) or into ``_seg``, a temp table of the staging connection."""
    stage = con if into_table else d.stage
    if not into_table:
        stage.execute("drop table if exists _seg")
    for k, ich in enumerate(f.index.interchanges):
        if into_table:
            target = f"insert into raw.segments ({_SEGMENT_COLUMNS}) "
        else:
            target = "create temp table _seg as " if k == 0 else "insert into _seg "
        _register(stage, f, k)
        try:
            stage.execute(target + _SEGMENTS_SQL, [
                file_id, ich.segment_term, ich.element_sep, int(f.index.first[k]), ich.seq,
                f.env.isa13[k], ich.component_sep, f.env.gs06, f.env.st02, f.env.st01])
        finally:
            _unregister(stage)
    f.in_seg = not into_table


def _object_array(text: str):
    """A one-element numpy array holding ``text``: how a string becomes a one-row
    relation for DuckDB without a temp table (the text is copied once, by DuckDB)."""
    import numpy as np

    array = np.empty(1, dtype=object)
    array[0] = text
    return array


def _segment_pattern(pattern: str, element_sep: str) -> str:
    """A ``_good_patterns`` pattern over a whole segment's text: its id, then its
    elements, with this interchange's element separator."""
    sep = _regex_char(element_sep)
    return f"[^{sep}]*{sep}" + pattern.replace(_NUL, sep)


def _regex_char(c: str) -> str:
    """``c`` as a literal in a regular expression (RE2), inside or outside brackets."""
    return "\\" + c if c.isascii() and not c.isalnum() else c


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


# --------------------------------------------------------------------------- checks

# Dates the marts cast: (segment, element).
_DATES = [("BPR", 16), ("DTM", 2)]
# A CCYYMMDD date that exists: year 0001-9999, a day of its month, 29 February in leap
# years (divisible by 4 and not by 100, or by 400). The same dates as datetime.date.
_GOOD_DATE = (r"(?:(?:[0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"
              r"(?:(?:0[1-9]|1[0-2])(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])(?:29|30)"
              r"|(?:0[13578]|1[02])31)"
              r"|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
              r"0229)")
_NUL = r"\x00"  # stands for the element separator in the patterns below
_FIELD = f"[^{_NUL}]*"


def _structure_problem(index: SegmentIndex, is835, counted: bool) -> tuple | None:
    """The first segment whose place in the file makes the file unusable, as
    ``(segment_pos, 0, reason)``: at one position these come before number problems.

    ``counted``: also count the elements of every CAS and PLB. The quick patterns refuse
    a CAS or PLB with too many, so the quick path needs no count.
    """
    import numpy as np

    kind = index.kind

    def at(name: str):
        return kind == KIND[name]

    def too_long(name: str, most: int):
        mask = at(name) & is835
        if counted and mask.any():
            rows = np.flatnonzero(mask)
            mask[rows] = index.element_counts(rows) > most
            return mask
        return np.zeros_like(mask)

    rules = [
        (~index.valid_id, lambda i: "invalid segment id"),
        (at("SE") & (index.se_count > index.st_count), lambda i: "SE without a matching ST"),
        (at("ST") & (index.st_count - 1 > index.se_count),
         lambda i: "ST before the previous transaction ended (its SE is missing)"),
        (too_long("CAS", _CAS_MAX_ELEMENTS),
         lambda i: "CAS has more than six adjustment triplets"),
        (too_long("PLB", _PLB_MAX_ELEMENTS),
         lambda i: "PLB has more than six adjustment pairs"),
        ((at("CLP") | at("SVC") | at("CAS")) & is835 & (index.claim_seq < 0),
         lambda i: f"{index.segment_id(i)} outside a claim"),
    ]
    found = [(int(np.argmax(mask)), order) for order, (mask, _) in enumerate(rules)
             if mask.any()]
    if not found:
        return None
    i, order = min(found)  # at one segment, the first rule that holds wins
    return i + 1, 0, rules[order][1](i)


@functools.lru_cache(maxsize=None)
def _good_patterns() -> dict[str, str]:
    """Per segment id, a regular expression over the segment's elements (joined by the
    element separator, written ``\\x00`` here) that only a segment with no money or
    date problem matches.

    The number rules ask several questions of each element: a file of 40 000 CAS
    segments asks 700 000 of them. One match per segment, made while the file is cut,
    answers for the good ones; a file with a segment that does not match takes the slow
    path, where the rules themselves (``_number_problems_sql``, ``_dates_sql``) name the
    first problem. The patterns may refuse a good segment (that only costs the slow
    path); they must never pass a bad one (tests/test_loader_checks.py holds them to it).
    """
    def number(money: bool, required: bool) -> str:
        pattern = f"(?:{_AMOUNT if money else _DECIMAL})"
        return pattern if required else f"{pattern}?"

    patterns = {}
    simple: dict[str, dict[int, tuple[str, bool]]] = {}
    for seg, idx, required, money in _MONEY:
        simple.setdefault(seg, {})[idx] = (number(money, True), required)
    for seg, idx in _DATES:
        simple.setdefault(seg, {})[idx] = (f"(?:{_GOOD_DATE})", False)
    for seg, rules in sorted(simple.items()):
        last_required = max([k for k, (_, required) in rules.items() if required] or [1])

        def element(k: int) -> str:
            if k not in rules:
                return _FIELD
            pattern, required = rules[k]
            return pattern if required else f"{pattern}?"

        # Elements up to the last required one must be there; after it the list may end
        # anywhere (a missing element is empty); past the last rule anything goes.
        tail = f"(?:{_NUL}{_FIELD})*"
        for k in range(max(rules), last_required, -1):
            tail = f"(?:{_NUL}{element(k)}{tail})?"
        patterns[seg] = _FIELD + "".join(f"{_NUL}{element(k)}"
                                         for k in range(2, last_required + 1)) + tail

    # CAS: the group code, then triplets (reason, amount, quantity): a reason with a good
    # amount and an empty or good quantity, or all three empty; the last may stop short,
    # and there are at most six (_CAS_MAX_ELEMENTS: no count is needed on this path).
    reason = f"[^{_NUL}]+"
    amount, quantity = number(True, True), number(False, False)
    n = len(_CAS_TRIPLETS)
    assert [t[0] for t in _CAS_TRIPLETS] == list(range(2, 2 + 3 * n, 3))
    assert _CAS_MAX_ELEMENTS == 1 + 3 * n
    triplet = f"(?:{_NUL}{reason}{_NUL}{amount}{_NUL}{quantity}|{_NUL}{_NUL}{_NUL})"
    short = f"(?:{_NUL}{reason}{_NUL}{amount}|{_NUL}{_NUL}?)?"
    patterns["CAS"] = f"{_FIELD}(?:{triplet}{{0,{n - 1}}}{short}|{triplet}{{{n}}})"
    # PLB: provider, fiscal period date, then pairs (reason, amount) the same way.
    n = len(_PLB_PAIRS)
    assert [p[0] for p in _PLB_PAIRS] == list(range(3, 3 + 2 * n, 2))
    assert _PLB_MAX_ELEMENTS == 2 + 2 * n
    pair = f"(?:{_NUL}{reason}{_NUL}{amount}|{_NUL}{_NUL})"
    patterns["PLB"] = (f"{_FIELD}(?:{_NUL}{_FIELD}(?:{pair}{{0,{n - 1}}}(?:{_NUL})?"
                       f"|{pair}{{{n}}}))?")
    return patterns


def _number_rules() -> dict[str, list[tuple]]:
    """The number rules of each segment, in the order a segment's problems are told:
    ``("number", element, reason, required, money)`` and ``("orphan", amount, reason,
    quantity)``; element numbers are 1-based, 0 for "none"."""
    rules: dict[str, list[tuple]] = {}
    for seg, idx, required, money in _MONEY:
        rules.setdefault(seg, []).append(("number", idx, 0, required, money))
    # A CAS or PLB amount is required when its reason code is there, and checked
    # whenever it is there: the marts cast every amount they find. Beyond six
    # triplets (pairs), or without a reason code, the marts could not place an amount:
    # the file is rejected rather than loaded with money the marts would drop.
    for reason, amount, qty in _CAS_TRIPLETS:
        rules.setdefault("CAS", []).extend([
            ("number", amount, reason, True, True), ("number", qty, 0, False, False),
            ("orphan", amount, reason, qty)])
    for reason, amount in _PLB_PAIRS:
        rules.setdefault("PLB", []).extend([
            ("number", amount, reason, True, True), ("orphan", amount, reason, 0)])
    return rules


def _number_problems_sql() -> str:
    """Each segment of ``_seg`` in an 835 transaction with a number element that the
    marts could not cast, or cast without every cent: (segment_pos, segment_id, problem),
    the segment's first problem.

    One ``case`` per segment id holds that segment's rules in order (a join to a table
    of rules would make a row per segment and rule); a regular expression runs only on
    an element that is there.
    """
    def element(n: int) -> str:
        return f"coalesce(elements[{n}], '')"

    def matches(n: int, pattern: str) -> str:
        return f"regexp_full_match({element(n)}, '{pattern}')"

    def number(seg: str, n: int, reason: int, required: bool, money: bool) -> tuple[str, str]:
        pattern = _AMOUNT if money else _DECIMAL
        if reason:
            required_sql = f"{element(reason)} <> ''"
        else:
            required_sql = "true" if required else "false"
        bad = (f"({element(n)} = '' and {required_sql}) "
               f"or ({element(n)} <> '' and not {matches(n, pattern)})")
        why = (f"case when {element(n)} = '' then ' is missing' "
               f"when not {matches(n, _DECIMAL)} then ' is not a number' "
               f"else ' has more than two decimal places' end")
        return bad, f"'{seg}{n:02d}' || {why}"

    def orphan(seg: str, n: int, reason: int, qty: int) -> tuple[str, str]:
        sent = f"{element(n)} <> ''" + (f" or {element(qty)} <> ''" if qty else "")
        return (f"{element(reason)} = '' and ({sent})",
                f"'{seg}{n:02d} has no reason code ({seg}{reason:02d})'")

    branches = []
    for seg, rules in sorted(_number_rules().items()):
        whens = []
        for kind, *args in rules:
            bad, problem = number(seg, *args) if kind == "number" else orphan(seg, *args)
            whens.append(f"                when {bad}\n                    then {problem}")
        branches.append(f"            when '{seg}' then case\n" + "\n".join(whens)
                        + "\n            end")
    cases = "\n".join(branches)
    return f"""
    select * from (
        select
            segment_pos,
            segment_id,
            case segment_id
{cases}
            end as problem
        from _seg
        where transaction_set = '835'
    ) as checked
    where problem is not null
    """


def _dates_sql() -> str:
    """Distinct date values of ``_seg`` the marts cast, with their first position."""
    union = "\n        union all\n".join(
        f"        select elements[{idx}] as v, segment_pos, segment_id from _seg\n"
        f"        where segment_id = '{seg}' and transaction_set = '835'"
        for seg, idx in _DATES)
    return f"""
    select v, min(segment_pos), min(segment_id) from (
{union}
    ) as d
    where coalesce(v, '') <> ''
    group by v
    """


def _is_date(value: str) -> bool:
    """A CCYYMMDD date that exists (ASCII digits: the marts' cast reads no other)."""
    if len(value) != 8 or not (value.isascii() and value.isdigit()):
        return False
    try:
        date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return False
    return True


def _validate(d: _Dialect, f: _Parsed, quick: bool) -> None:
    """Raise _Rejection for the first problem that makes the file unusable: the first
    by position among the structure and number rules, then a transaction with no SE,
    then a file with no 835, then a date that is not a date.

    ``quick``: every money and date segment matched a pattern only good segments match
    (``_quick_check``), so the number and date rules have nothing to find; otherwise they
    run on the rows in ``_seg``.
    """
    index, env = f.index, f.env
    problems = [_structure_problem(index, f.is835, counted=not quick)]
    if not quick:
        row = d.stage.execute(f"select segment_pos, problem from ({_number_problems_sql()}) "
                              f"order by segment_pos limit 1").fetchall()
        problems.append((row[0][0], 1, row[0][1]) if row else None)
    problems = [p for p in problems if p]
    if problems:
        pos, _, reason = min(problems, key=lambda p: (p[0], p[1]))
        raise _Rejection(reason, pos, index.segment_id(pos - 1))

    sts = index.where("ST")
    if len(sts) and int(index.st_count[-1]) > int(index.se_count[-1]):
        raise _Rejection("truncated: the transaction has no SE", int(sts[-1]) + 1, "ST")
    if "835" not in env.st01:
        if not len(sts):
            raise _Rejection("no 835 transaction in the file (no ST segment)", 1,
                             index.segment_id(0))
        others = [v for v in env.st01 if v is not None and v != "835"]
        other = min(others) if others else None
        found = f" (found {other})" if other and other.isdigit() and len(other) == 3 else ""
        raise _Rejection(f"no 835 transaction in the file{found}", int(sts[0]) + 1, "ST")

    if quick:
        return
    bad = [(pos, seg_id) for value, pos, seg_id in d.stage.execute(_dates_sql()).fetchall()
           if not _is_date(value)]
    if bad:
        pos, seg_id = min(bad)
        element = "DTM02" if seg_id == "DTM" else "BPR16"
        raise _Rejection(f"{element} is not a valid CCYYMMDD date", pos, seg_id)


# --------------------------------------------------------------------------- findings


def _as_count(value: str | None) -> int | None:
    """A count element as the findings compare it: digits that fit a bigint, else None."""
    return int(value) if value is not None and _COUNT.fullmatch(value) else None


def _said(value: int | None) -> str:
    return "nothing" if value is None else str(value)


def _distinct_per(keys, values, mask):
    """For each key, how many distinct values it has among the masked segments (keys
    and values are non-decreasing runs, so distinct runs are few: numpy on those)."""
    import numpy as np

    k, v = keys[mask], values[mask]
    if not len(k):
        return {}
    run = np.ones(len(k), dtype=bool)
    run[1:] = (k[1:] != k[:-1]) | (v[1:] != v[:-1])
    pairs = set(zip(k[run].tolist(), v[run].tolist()))
    out: dict[int, int] = {}
    for key, _ in pairs:
        out[key] = out.get(key, 0) + 1
    return out


def _envelope_findings(index: SegmentIndex, env: _Envelope) -> list[tuple]:
    """Envelope findings: the file still loads; each problem is recorded with its place,
    as (segment_pos, segment_id, finding_code, detail)."""
    import numpy as np

    out: list[tuple] = []
    txn, grp = index.transaction_seq, index.group_seq
    ich = np.repeat(np.array([c.seq for c in index.interchanges], dtype=np.int32),
                    np.diff(index.first))
    per_txn = np.bincount(txn, minlength=len(env.st01) + 1)
    txns_per_group = _distinct_per(grp, txn, (grp > 0) & (txn > 0))
    groups_per_ich = _distinct_per(ich, grp, (ich > 0) & (grp > 0))

    for i in index.where("SE"):
        k = int(txn[i])
        if k:
            said = _as_count(index.element(int(i), 1))
            if said != int(per_txn[k]):
                out.append((int(i) + 1, "SE", "SE01_COUNT_MISMATCH",
                            f"SE01 says {_said(said)}, the transaction has {per_txn[k]} "
                            f"segments"))
            if index.element(int(i), 2) != env.st02[k - 1]:  # is distinct from
                out.append((int(i) + 1, "SE", "CONTROL_NUMBER_MISMATCH",
                            f"ST02 and SE02 differ (transaction {k})"))
    gs_rows = {int(grp[i]): int(i) for i in index.where("GS") if grp[i]}
    for i in index.where("GE"):
        g = int(grp[i])
        if g:
            said, n = _as_count(index.element(int(i), 1)), txns_per_group.get(g, 0)
            if said != n:
                out.append((int(i) + 1, "GE", "GE01_COUNT_MISMATCH",
                            f"GE01 says {_said(said)}, the group has {n} transactions"))
            gs06 = index.element(gs_rows[g], 6) if g in gs_rows else None
            if index.element(int(i), 2) != gs06:
                out.append((int(i) + 1, "GE", "CONTROL_NUMBER_MISMATCH",
                            f"GS06 and GE02 differ (group {g})"))
    for i in index.where("IEA"):
        k = index.interchange_of(int(i))
        seq = index.interchanges[k].seq
        if seq:
            said, n = _as_count(index.element(int(i), 1)), groups_per_ich.get(seq, 0)
            if said != n:
                out.append((int(i) + 1, "IEA", "IEA01_COUNT_MISMATCH",
                            f"IEA01 says {_said(said)}, the interchange has {n} groups"))
            isa13 = env.isa13[k]
            if index.element(int(i), 2) != isa13:
                out.append((int(i) + 1, "IEA", "CONTROL_NUMBER_MISMATCH",
                            f"ISA13 and IEA02 differ (interchange {seq})"))
    if index.interchanges[0].seq == 0:
        out.append((1, "ST", "NO_INTERCHANGE_ENVELOPE", "bare ST...SE with no ISA/GS envelope"))
    for k, i in enumerate(index.where("ST"), start=1):
        if env.st01[k - 1] != "835":
            out.append((int(i) + 1, "ST", "NON_835_TRANSACTION",
                        f"transaction {txn[i]} is not an 835; kept, not used by the marts"))
    opened = len(index.where("GS")) - len(index.where("GE"))
    if opened > 0:
        last = max(int(index.where("GS")[-1]), int(np.append(index.where("GE"), -1)[-1]))
        out.append((last + 1, "GS", "GROUP_NOT_CLOSED", "a GS group has no GE"))
    return out


# --------------------------------------------------------------------------- duplicates


def _payment_keys(index: SegmentIndex, env: _Envelope) -> list[tuple]:
    """This file's rows of raw.payment_keys: per 835 transaction, where a finding on it
    points (its first TRN, else its ST), the smallest TRN02 and TRN03 of its TRNs, the
    trimmed ISA06 of its interchange, its ISA13 and its ST02.

    A transaction with two TRN segments (the 835 allows one) is compared by those
    smallest values, on both sides of the comparison."""
    import numpy as np

    txn = index.transaction_seq
    opened = np.flatnonzero(txn > 0)  # transaction numbers never decrease along the file
    numbers = txn[opened]
    traces: dict[int, list[tuple]] = {}
    for i in index.where("TRN"):
        if txn[i]:
            traces.setdefault(int(txn[i]), []).append(
                (int(i) + 1, index.element(int(i), 2), index.element(int(i), 3)))

    def smallest(values):
        present = [v for v in values if v is not None]
        return min(present) if present else None

    keys = []
    for k, st01 in enumerate(env.st01, start=1):
        lo, hi = np.searchsorted(numbers, k, "left"), np.searchsorted(numbers, k, "right")
        if st01 != "835" or lo == hi:
            continue
        first, last = int(opened[lo]), int(opened[hi - 1])
        spanned = range(index.interchange_of(first), index.interchange_of(last) + 1)
        isa13 = max(
            (env.isa13[c] for c in spanned if env.isa13[c] is not None), default=None)
        isa06 = env.isa06[spanned[-1]]
        trn = traces.get(k)
        if trn:
            pos, seg = min(t[0] for t in trn), "TRN"
            trn02, trn03 = smallest(t[1] for t in trn), smallest(t[2] for t in trn)
        else:
            pos, seg, trn02, trn03 = first + 1, "ST", None, None
        keys.append((k, pos, seg, trn02, trn03, isa06, isa13, env.st02[k - 1]))
    return keys


def _duplicate_payment_sql(d: _Dialect) -> str:
    """Transactions of this file that pay what a file loaded before already paid: the
    same trace (TRN03 payer id + TRN02 check or EFT number) or the same envelope
    (ISA06 sender + ISA13 + ST02). One finding per transaction, on its TRN (its ST
    when it has none), naming the earliest such file. One parameter: this file's id,
    whose keys are in raw.payment_keys already. Copies inside one file are not compared
    (see the README's limitations)."""
    return f"""
    with mine as (
        select * from raw.payment_keys where file_id = {d.param}
    ),

    by_trace as (
        select m.segment_pos as pos, m.segment_id as seg, 1 as rule,
               o.file_id, o.transaction_seq
        from mine as m
        inner join raw.payment_keys as o
            on o.trn03 = m.trn03 and o.trn02 = m.trn02 and o.file_id <> m.file_id
        where m.trn02 <> '' and m.trn03 <> ''
    ),

    by_envelope as (
        select m.segment_pos as pos, m.segment_id as seg, 2 as rule,
               o.file_id, o.transaction_seq
        from mine as m
        inner join raw.payment_keys as o
            on o.isa13 = m.isa13 and o.st02 = m.st02 and o.isa06 = m.isa06
           and o.file_id <> m.file_id
    ),

    ranked as (
        select h.*, row_number() over (
            partition by h.pos
            order by h.rule, f.loaded_at, h.file_id, h.transaction_seq) as rn
        from (select * from by_trace union all select * from by_envelope) as h
        inner join raw.file_manifest as f
            on f.file_id = h.file_id and f.status = 'loaded'
    )

    select pos, seg, 'DUPLICATE_PAYMENT',
           case when rule = 1 then 'same TRN03+TRN02' else 'same ISA06+ISA13+ST02' end
           || ' as transaction ' || transaction_seq || ' of file ' || file_id
    from ranked
    where rn = 1
    order by pos
    """


# --------------------------------------------------------------------------- loading

# raw.segments.elements as a PostgreSQL array literal, for COPY: every element quoted,
# its backslashes and double quotes escaped (any character may be data but the
# separator, which no longer is in an element).
_PG_ELEMENTS = (r"""'{' || array_to_string(list_transform(elements, lambda e: '"' """
                r"""|| replace(replace(e, '\', '\\'), '"', '\"') || '"'), ',') || '}'""")


def _write_staged(con, d: _Dialect) -> None:
    """The rows waiting in ``_seg`` into raw.segments: on DuckDB with one insert; into
    PostgreSQL with one COPY of CSV written by DuckDB (quoting, NULL as an empty field,
    "" for an empty string)."""
    if d.kind == "duckdb":
        con.execute(f"insert into raw.segments ({_SEGMENT_COLUMNS}) "
                    f"select {_SEGMENT_COLUMNS} from _seg")
        con.execute("drop table _seg")
        return
    columns = _SEGMENT_COLUMNS.replace("elements", f"{_PG_ELEMENTS} as elements")
    path = d.scratch / "segments.csv"
    literal = str(path).replace("'", "''")
    d.stage.execute(f"copy (select {columns} from _seg) to '{literal}' "
                    f"(format csv, header false)")
    d.stage.execute("drop table _seg")
    try:
        with path.open(encoding="utf-8", newline="") as rows:
            _cursor(con).copy_expert(
                f"copy raw.segments ({_SEGMENT_COLUMNS}) from stdin with (format csv)", rows)
    finally:
        path.unlink(missing_ok=True)


def _commit_file(con, d: _Dialect, src: _Source, file_id: str, run_id: str,
                 received_at: datetime, f: _Parsed) -> FileResult:
    """What a checked file adds besides the rows already in raw.segments: the rows still
    staged, the payment keys, the findings and the manifest row, in the file's
    transaction."""
    import numpy as np

    index, env, is835 = f.index, f.env, f.is835
    cur = _cursor(con)
    p = d.param
    if f.in_seg:
        _write_staged(con, d)
    keys = _payment_keys(index, env)
    if keys:
        cur.executemany(f"insert into raw.payment_keys values ({', '.join([p] * 9)})",
                        [(file_id, *k) for k in keys])
    findings = _envelope_findings(index, env)
    cur.execute(_duplicate_payment_sql(d), (file_id,))
    findings += [tuple(row) for row in cur.fetchall()]
    if findings:
        cur.executemany(f"insert into raw.file_findings values ({p}, {p}, {p}, {p}, {p})",
                        [(file_id, *f) for f in findings])

    kind = index.kind
    n_clp = int(np.count_nonzero((kind == KIND["CLP"]) & is835))
    n_txn = len(keys)  # one key row per 835 transaction
    sts = index.where("ST")
    groups = [int(index.group_seq[i]) for i in sts if is835[i] and index.group_seq[i]]
    version = None
    if groups:  # GS08 of the group that holds the first 835
        gs = [int(i) for i in index.where("GS") if index.group_seq[i] == min(groups)]
        version = index.element(gs[0], 8) if gs else None
    cur.execute(
        f"insert into raw.file_manifest (file_id, file_name, source_uri, size_bytes, "
        f"received_at, loaded_at, status, error, quarantine_path, interchange_count, "
        f"transaction_count, claim_count, segment_count, x12_version, run_id) "
        f"values ({', '.join([p] * 15)})",
        (file_id, src.name, src.uri, len(src.data), received_at, _now(), LOADED, None, None,
         len(index.where("ISA")), n_txn, n_clp, index.count, version, run_id),
    )
    return FileResult(file_id, src.name, LOADED, segments=index.count, claims=n_clp,
                      findings=len(findings))


def _record_rejection(con, d: _Dialect, src: _Source, file_id: str, run_id: str,
                      received_at: datetime, reason: str, quarantine: str | None) -> None:
    p = d.param
    _begin(con, d)
    cur = _cursor(con)
    cur.execute(
        f"insert into raw.file_manifest (file_id, file_name, source_uri, size_bytes, "
        f"received_at, status, error, quarantine_path, run_id) "
        f"values ({', '.join([p] * 9)})",
        (file_id, src.name, src.uri, len(src.data), received_at, REJECTED, reason, quarantine,
         run_id),
    )
    con.commit()


def _cursor(con):
    """DuckDB's ``cursor()`` opens a second connection with its own temp tables and
    transaction, so DuckDB statements run on the connection itself."""
    return con if hasattr(con, "begin") else con.cursor()


def _begin(con, d: _Dialect) -> None:
    """DuckDB runs in autocommit unless told; PostgreSQL (psycopg2) opens a transaction
    on the first statement by itself."""
    if d.kind == "duckdb":
        con.begin()


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _quarantine(src: _Source, file_id: str, reason: str, quarantine_dir: Path | None,
                move: bool) -> str | None:
    """Put a rejected file aside with its reason; never lose it."""
    if quarantine_dir is None:
        return None
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    safe = src.name.replace("/", "_").replace("!", "__")
    target = quarantine_dir / f"{file_id[:12]}_{safe}"
    if src.path is not None and move:
        shutil.move(str(src.path), target)
    else:
        target.write_bytes(src.data)
    target.with_name(target.name + ".reason.txt").write_text(reason + "\n")
    return str(target)


def _looks_like_x12(data: bytes) -> bool:
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"ISA") or head.startswith(b"ST")


def _member(path: Path, member: str) -> Callable[[], bytes]:
    def read() -> bytes:
        with zipfile.ZipFile(path) as archive:
            return archive.read(member)

    return read


def _expand(path: Path, uri: str) -> tuple[list[_Source], str | None]:
    """A file, or each X12 member of a zip archive. Returns the sources and, for a zip
    with nothing usable in it, the reason to reject the archive itself. Members are read
    here to be checked, then let go: each is read again when it is loaded."""
    with path.open("rb") as head:
        if head.read(4) != b"PK\x03\x04":
            return [_Source(path.name, uri, path.read_bytes, path)], None
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            sources = []
            for m in members:
                if _looks_like_x12(archive.read(m)):
                    sources.append(_Source(f"{path.name}!{m.filename}", f"{uri}!{m.filename}",
                                           _member(path, m.filename), None))
    except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
        return [], f"zip archive cannot be read ({type(exc).__name__})"
    if not sources:
        n = len(members)
        return [], f"zip archive holds no X12 file ({n} member{'' if n == 1 else 's'})"
    return sources, None


def ingest_paths(
    paths: Iterable[Path],
    wh: Warehouse,
    quarantine_dir: Path | None = None,
    run_id: str | None = None,
    move_rejected: bool = True,
    source_uris: dict[Path, str] | None = None,
    received_at: dict[Path, datetime] | None = None,
    progress: Callable[[int, int, FileResult], None] | None = None,
) -> IngestReport:
    """Load files (or zip archives of them) into the raw schema.

    Each file loads whole or not at all. A rejected file gets a manifest row with a
    one-line reason and goes to ``quarantine_dir`` (moved when ``move_rejected``, else
    copied); the rest of the batch goes on. Files are read one at a time: memory follows
    the largest file, not the batch.
    """
    run_id = run_id or f"run-{uuid.uuid4().hex[:12]}"
    report = IngestReport(run_id)
    paths = [Path(p) for p in paths]

    with wh.connect() as con:
        ensure_schema(con, wh.kind)
        d = _Dialect(wh.kind, con)
        loader = _Loader(con, d, report, quarantine_dir, move_rejected)
        try:
            for n, path in enumerate(paths, start=1):
                uri = (source_uris or {}).get(path, str(path.resolve()))
                got = (received_at or {}).get(path, _now())
                sources, zip_reason = _expand(path, uri)
                if zip_reason:
                    archive = _Source(path.name, uri, path.read_bytes, path)
                    archive.data = archive.read()
                    report.results.append(loader.reject(
                        archive, _sha256(archive.data), got,
                        f"{_one_line(path.name)}: {zip_reason}"))
                for src in sources:
                    loader.load(src, got)
                del sources
                if progress is not None and report.results:
                    progress(n, len(paths), report.results[-1])
            loader.commit()
        finally:
            d.close()
            if d.kind == "duckdb":
                with contextlib.suppress(Exception):  # a broken connection says so above
                    con.execute("reset memory_limit")

    log.info(
        "run %s: %d loaded, %d skipped, %d rejected",
        run_id, len(report.loaded), len(report.skipped), len(report.rejected),
    )
    return report


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _usable(con) -> bool:
    """Whether the connection still answers (a database error on one file's data) or
    not (the server went away: the run must stop, not reject every file)."""
    try:
        cur = _cursor(con)
        cur.execute("select 1")
        cur.fetchone()
        return True
    except Exception:
        return False


def _already_seen(con, d: _Dialect, file_id: str) -> str | None:
    cur = _cursor(con)
    cur.execute(f"select status from raw.file_manifest where file_id = {d.param}", (file_id,))
    row = cur.fetchone()
    return row[0] if row else None


# Small files share a transaction until it holds this many segments (four of DuckDB's
# row groups). DuckDB writes a full row group to the file compressed, straight away;
# a commit of fewer rows goes through the write-ahead log and is compressed again at the
# next checkpoint, which made a 1 MB file cost nearly twice its share.
_BATCH_ROWS = 4 * 122_880


@dataclass
class _Written:
    """A file written in the open transaction, kept until it commits."""

    position: int  # its place in report.results
    src: _Source
    got: datetime
    result: FileResult


class _Loader:
    """Loads files in order on one warehouse connection.

    Everything that can reject a file is checked before any of its rows is written
    (``_parse``, ``_quick_check``, ``_validate``), so a good small file can join the
    transaction that earlier small files are waiting in without putting them at risk;
    the transaction commits once it holds ``_BATCH_ROWS`` segments, before a rejection is
    recorded and at the end. A file that needs the full rules (``_slow``) has a
    transaction of its own. Should a write still fail (a bug of ours, a full disk), the
    transaction is rolled back and each of its files loaded again on its own.
    """

    def __init__(self, con, d: _Dialect, report: IngestReport, quarantine_dir: Path | None,
                 move: bool):
        self.con, self.d, self.report = con, d, report
        self.quarantine_dir, self.move = quarantine_dir, move
        self.written: list[_Written] = []
        self.rows = 0

    def load(self, src: _Source, got: datetime) -> None:
        position = len(self.report.results)
        self.report.results.append(FileResult("", src.name, SKIPPED))
        self.report.results[position] = self._load(src, got, position, share=True)

    def commit(self) -> None:
        """Commit the open transaction, if any, and log what it held."""
        if not self.written:
            return
        self.con.commit()
        for w in self.written:
            r = w.result
            log.info("file %s (%s) loaded: %d segments, %d claims, %d findings",
                     r.file_id[:12], r.name, r.segments, r.claims, r.findings)
        self.written, self.rows = [], 0

    def reject(self, src: _Source, file_id: str, got: datetime, reason: str) -> FileResult:
        """Record a rejection, in a transaction of its own."""
        self.commit()
        con, d = self.con, self.d
        if _already_seen(con, d, file_id):
            result = FileResult(file_id, src.name, SKIPPED, "already recorded")
        else:
            where = _quarantine(src, file_id, reason, self.quarantine_dir, self.move)
            _record_rejection(con, d, src, file_id, self.report.run_id, got, reason, where)
            log.warning("file %s rejected: %s", file_id[:12], reason)
            result = FileResult(file_id, src.name, REJECTED, reason)
        return result

    def _failed(self, src: _Source, file_id: str, got: datetime, exc: Exception) -> FileResult:
        """A file this loader has a bug with: it is rejected and the batch goes on. The
        database's message is left out: it may quote the file's content."""
        if not _usable(self.con):
            raise exc
        name = _one_line(src.name)
        log.error("file %s (%s): unexpected %s while loading; rejected",
                  file_id[:12], name, type(exc).__name__)
        return self.reject(src, file_id, got,
                           f"{name}: the loader failed on this file ({type(exc).__name__}); "
                           f"nothing of it was loaded")

    def _load(self, src: _Source, got: datetime, position: int, share: bool) -> FileResult:
        src.data = src.read()
        try:
            return self._load_read(src, got, position, share)
        finally:
            src.data = b""

    def _load_read(self, src: _Source, got: datetime, position: int,
                   share: bool) -> FileResult:
        con, d = self.con, self.d
        file_id = _sha256(src.data)
        seen = _already_seen(con, d, file_id)  # inside the open transaction: sees it too
        if seen:
            log.info("file %s (%s) already %s; skipped", file_id[:12], src.name, seen)
            return FileResult(file_id, src.name, SKIPPED, f"already {seen}")

        name = _one_line(src.name)
        if d.kind == "duckdb":  # DuckDB's memory sized for the file about to be cut
            limit = max(_DUCKDB_MEMORY_FLOOR, _DUCKDB_MEMORY_PER_BYTE * len(src.data))
            con.execute(f"set memory_limit = '{limit // 2**20}MiB'")
        try:
            f = _parse(src.data)
            quick = (_structure_problem(f.index, f.is835, counted=False) is None
                     and _quick_check(d, f))
            if quick:
                _validate(d, f, quick=True)
        except (X12FormatError, _Rejection) as exc:
            return self.reject(src, file_id, got,
                               f"{name}: {_place(exc.segment_pos, exc.segment_id)}{exc.reason}")
        except Exception as exc:
            self.commit()
            return self._failed(src, file_id, got, exc)
        if not quick:
            self.commit()
            return self._slow(src, file_id, got, f)

        if self.written and (not share or self.rows + f.index.count > _BATCH_ROWS):
            self.commit()
        if not self.written:
            self._begin(src)
        try:
            _stage(con, d, file_id, f, into_table=d.kind == "duckdb")
            result = _commit_file(con, d, src, file_id, self.report.run_id, got, f)
        except Exception as exc:
            return self._redo(position, src, got, exc)
        self.written.append(_Written(position, src, got, result))
        self.rows += f.index.count
        if not share or self.rows >= _BATCH_ROWS:
            self.commit()
        return result

    def _slow(self, src: _Source, file_id: str, got: datetime, f: _Parsed) -> FileResult:
        """A file with a segment the quick checks could not clear: cut into ``_seg``, held
        to the full rules there, and written from there if it passes, on its own."""
        con, d = self.con, self.d
        name = _one_line(src.name)
        self._begin(src)
        try:
            _stage(con, d, file_id, f, into_table=False)
            _validate(d, f, quick=False)
            result = _commit_file(con, d, src, file_id, self.report.run_id, got, f)
            con.commit()
        except _Rejection as exc:
            con.rollback()
            return self.reject(src, file_id, got,
                               f"{name}: {_place(exc.segment_pos, exc.segment_id)}{exc.reason}")
        except Exception as exc:
            con.rollback()
            return self._failed(src, file_id, got, exc)
        log.info("file %s (%s) loaded: %d segments, %d claims, %d findings",
                 file_id[:12], src.name, result.segments, result.claims, result.findings)
        return result

    def _redo(self, position: int, src: _Source, got: datetime, exc: Exception) -> FileResult:
        """A write failed: roll the open transaction back, load the files it held again one
        by one, then this one on its own (a second failure rejects it)."""
        self.con.rollback()
        if not _usable(self.con):
            raise exc
        earlier, self.written, self.rows = self.written, [], 0
        for w in earlier:
            self.report.results[w.position] = self._load(w.src, w.got, w.position, share=False)
        if earlier:
            return self._load(src, got, position, share=False)
        return self._failed(src, _sha256(src.data), got, exc)

    def _begin(self, src: _Source) -> None:
        _begin(self.con, self.d)
