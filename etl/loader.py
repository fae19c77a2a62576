"""Raw load: ERA files into ``raw.file_manifest``, ``raw.segments`` and
``raw.file_findings``.

Each file is loaded in one database transaction: either every segment of it
lands, with its manifest row, or nothing does and the manifest records why.
A file whose bytes were seen before (same SHA-256) is skipped, so a re-delivered
file or a re-run never doubles money.

Python finds the interchanges and their delimiters (``etl.x12``); the warehouse
cuts the segments, gives each its loop context with window functions, checks the
envelope and validates every money and date element the marts will cast. Set-based
SQL keeps the per-segment work out of the Python interpreter.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import shutil
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from etl.warehouse import Warehouse
from etl.x12 import (
    Interchange,
    X12FormatError,
    clean_body,
    count_segments,
    decode,
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
    """One file to load: its bytes and where they came from."""

    name: str
    uri: str
    data: bytes
    path: Path | None  # the file on disk, for quarantine (None for zip members)


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
    """SQL that differs between DuckDB and PostgreSQL."""

    def __init__(self, kind: str):
        self.kind = kind
        self.param = "?" if kind == "duckdb" else "%s"
        self.array = "varchar[]" if kind == "duckdb" else "text[]"

    def split(self, s: str, d: str) -> str:
        return f"string_split({s}, {d})" if self.kind == "duckdb" else f"string_to_array({s}, {d})"

    def tail(self, s: str, d: str) -> str:
        """Elements after the segment id, 1-based."""
        if self.kind == "duckdb":
            return f"string_split({s}, {d})[2:]"
        return f"(string_to_array({s}, {d}))[2:]"

    def trim(self, s: str, chars: str) -> str:
        return f"trim({s}, {chars})" if self.kind == "duckdb" else f"btrim({s}, {chars})"

    def length(self, array: str) -> str:
        return f"len({array})" if self.kind == "duckdb" else f"cardinality({array})"

    def matches(self, x: str, pattern: str) -> str:
        if self.kind == "duckdb":
            return f"regexp_full_match({x}, '{pattern}')"
        return f"({x} ~ '^(?:{pattern})$')"

    def cut(self) -> str:
        """One row per segment with its ordinal. The body column must not travel with
        each row (a lateral join would repeat the whole text per segment)."""
        if self.kind == "duckdb":
            return ("select ich, esep, csep, base, unnest(l) as seg, "
                    "unnest(range(1, len(l) + 1)) as ord "
                    "from (select ich, esep, csep, base, string_split(body, term) as l "
                    "from _chunks)")
        return ("select ich, esep, csep, base, seg, ord from _chunks, "
                "string_to_table(body, term) with ordinality as t(seg, ord)")


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
_PG_INDEXES = [
    "create index if not exists segments_file_idx on raw.segments (file_id)",
    "create index if not exists findings_file_idx on raw.file_findings (file_id)",
    # the duplicate-payment lookups (partial: a few rows per transaction)
    "create index if not exists segments_trace_idx on raw.segments ((elements[3]), "
    "(elements[2])) where segment_id = 'TRN'",
    "create index if not exists segments_envelope_idx on raw.segments (isa13, st02) "
    "where segment_id = 'ST'",
]


def ensure_schema(con, kind: str) -> None:
    """Create the raw schema and tables if they are missing (safe to re-run)."""
    dialect = _Dialect(kind)
    cur = _cursor(con)
    for stmt in DDL:
        cur.execute(stmt.format(array=dialect.array))
    if kind == "postgres":
        for stmt in _PG_INDEXES:
            cur.execute(stmt)
    con.commit()


# --------------------------------------------------------------------------- SQL steps


def _segment_sql(d: _Dialect, file_param: str) -> list[str]:
    """Cut the staged interchanges into segments with envelope and loop context.

    One running window over the segments in file order gives every count the loop
    context needs; the per-transaction and per-claim numbers are those running counts
    less their value at the transaction's ST or the claim's CLP, found by hash joins.
    One sort instead of one per partitioning keeps this near the speed of a scan.
    """
    running = "rows between unbounded preceding and current row"

    def flag(cond: str) -> str:
        return f"case when {cond} then 1 else 0 end"

    starter = """case
            when segment_id = 'ST' then 1
            when segment_id = 'N1' and elements[1] = 'PR' then 2
            when segment_id = 'N1' and elements[1] = 'PE' then 3
            when segment_id = 'LX' then 4
            when segment_id = 'CLP' then 5
            when segment_id = 'SVC' then 6
            when segment_id = 'PLB' then 7
            when segment_id = 'SE' then 8
        end"""
    numbered = f"""
    create temp table _num as
    select cast(base + ord as integer) as segment_pos,
           ich as interchange_seq, csep as component_sep,
           split_part(seg, esep, 1) as segment_id,
           {d.tail('seg', 'esep')} as elements
    from ({d.cut()}) c
    """
    running_counts = f"""
    create temp table _run as
    with narrow as (
        select segment_pos, interchange_seq, segment_id,
               case when segment_id in ('ST', 'GS', 'ISA', 'N1') then elements end
                   as elements
        from _num
    ),
    run as (
        select *,
            sum({flag("segment_id = 'GS'")}) over w as gs_count,
            sum({flag("segment_id = 'GE'")}) over w as ge_count,
            sum({flag("segment_id = 'ST'")}) over w as st_count,
            sum({flag("segment_id = 'SE'")}) over w as se_count,
            sum({flag("segment_id = 'LX'")}) over w as lx_run,
            sum({flag("segment_id = 'CLP'")}) over w as clp_run,
            sum({flag("segment_id = 'SVC'")}) over w as svc_run,
            mod(max(segment_pos * 10 + {starter}) over w, 10) as loop_code
        from narrow
        window w as (order by segment_pos {running})
    )
    select * from run
    """
    contexted = f"""
    create temp table _seg as
    with run as (select * from _run),
    placed as (
        select *,
            case when st_count > 0 and st_count >
                se_count - {flag("segment_id = 'SE'")}
                then st_count end as transaction_seq,
            case when gs_count > 0 and gs_count >
                ge_count - {flag("segment_id = 'GE'")}
                then gs_count end as group_seq
        from run
    ),
    txn as (
        select st_count as t_seq, elements[1] as transaction_set, elements[2] as st02,
               lx_run as lx_base, clp_run as clp_base
        from run where segment_id = 'ST'
    ),
    clm as (
        select clp_run as c_run, svc_run as svc_base from run where segment_id = 'CLP'
    ),
    grp as (
        select gs_count as g_seq, elements[6] as gs06 from run where segment_id = 'GS'
    ),
    ich as (
        select interchange_seq as i_seq, elements[13] as isa13
        from run where segment_id = 'ISA'
    )
    select
        cast({file_param} as varchar) as file_id,
        cast(p.segment_pos as integer) as segment_pos,
        cast(p.interchange_seq as integer) as interchange_seq,
        cast(p.group_seq as integer) as group_seq,
        cast(p.transaction_seq as integer) as transaction_seq,
        ich.isa13,
        grp.gs06,
        txn.st02,
        txn.transaction_set,
        case
            when p.transaction_seq is null then p.segment_id
            when p.segment_id in ('ST', 'SE') then p.segment_id
            when p.loop_code = 2 then '1000A'
            when p.loop_code = 3 then '1000B'
            when p.loop_code = 4 then '2000'
            when p.loop_code = 5 then '2100'
            when p.loop_code = 6 then '2110'
            when p.loop_code = 7 then 'PLB'
            else 'header'
        end as loop_id,
        cast(case when p.lx_run > txn.lx_base
            then p.lx_run - txn.lx_base end as integer) as header_seq,
        cast(case when p.loop_code in (5, 6)
            then p.clp_run - txn.clp_base end as integer) as claim_seq,
        cast(case when p.loop_code = 6
            then p.svc_run - clm.svc_base end as integer) as line_seq,
        p.segment_id,
        n.elements,
        n.component_sep,
        cast(p.st_count as integer) as st_count,
        cast(p.se_count as integer) as se_count
    from placed p
    join _num n on n.segment_pos = p.segment_pos
    left join txn on txn.t_seq = p.transaction_seq
    left join clm on clm.c_run = p.clp_run and p.transaction_seq is not null
    left join grp on grp.g_seq = p.group_seq
    left join ich on ich.i_seq = p.interchange_seq
    """
    return [numbered, running_counts, contexted, "drop table _num", "drop table _run"]


def _structure_problems_sql(d: _Dialect) -> str:
    """The first problem that makes a file unloadable, by position (then by rule).

    The number rules are rows of a small table joined to the segments, so that the
    query holds two regular expressions rather than one per element: planning a
    query with sixty of them cost more than running it on a small file.
    """
    numbers, orphans, prio = [], [], 10
    for seg, idx, required, money in _MONEY:
        numbers.append((prio, seg, idx, 0, required, money))
        prio += 1
    # A CAS or PLB amount is required when its reason code is there, and checked
    # whenever it is there: the marts cast every amount they find. Beyond six
    # triplets (pairs), or without a reason code, the marts could not place an amount:
    # the file is rejected rather than loaded with money the marts would drop.
    for reason, amount, qty in _CAS_TRIPLETS:
        numbers.append((prio, "CAS", amount, reason, True, True))
        numbers.append((prio + 1, "CAS", qty, 0, False, False))
        orphans.append((prio + 2, "CAS", amount, reason, qty))
        prio += 3
    for reason, amount in _PLB_PAIRS:
        numbers.append((prio, "PLB", amount, reason, True, True))
        orphans.append((prio + 1, "PLB", amount, reason, 0))
        prio += 2

    def values(rows: list[tuple]) -> str:
        def lit(v) -> str:
            return f"'{v}'" if isinstance(v, str) else str(v).lower()

        return ", ".join("(" + ", ".join(lit(v) for v in row) + ")" for row in rows)

    def name(seg: str, idx: str) -> str:
        return f"{seg} || lpad(cast({idx} as varchar), 2, '0')"

    return f"""
    with number_rules(prio, seg, idx, reason_idx, required, money) as (
        values {values(numbers)}
    ),
    orphan_rules(prio, seg, idx, reason_idx, qty_idx) as (
        values {values(orphans)}
    ),
    numbers as (
        select s.segment_pos, s.segment_id, r.prio, r.seg, r.idx, r.money,
               coalesce(s.elements[r.idx], '') as v,
               case when r.reason_idx = 0 then r.required
                    else coalesce(s.elements[r.reason_idx], '') <> '' end as required
        from _seg s join number_rules r on r.seg = s.segment_id
        where s.transaction_set = '835'
    ),
    bad_numbers as (
        select segment_pos, segment_id, prio, {name('seg', 'idx')} || case
                   when v = '' then ' is missing'
                   when not {d.matches('v', _DECIMAL)} then ' is not a number'
                   else ' has more than two decimal places' end as problem
        from numbers
        where (v = '' and required)
           or (v <> '' and not (case when money then {d.matches('v', _AMOUNT)}
                                     else {d.matches('v', _DECIMAL)} end))
    ),
    orphans as (
        select s.segment_pos, s.segment_id, o.prio,
               {name('o.seg', 'o.idx')} || ' has no reason code ('
               || {name('o.seg', 'o.reason_idx')} || ')' as problem
        from _seg s join orphan_rules o on o.seg = s.segment_id
        where s.transaction_set = '835' and coalesce(s.elements[o.reason_idx], '') = ''
          and (coalesce(s.elements[o.idx], '') <> ''
               or (o.qty_idx > 0 and coalesce(s.elements[o.qty_idx], '') <> ''))
    ),
    shape as (
        select segment_pos, segment_id, 0 as prio, case
            when not {d.matches('segment_id', '[A-Z][A-Z0-9]{1,2}')} then 'invalid segment id'
            when segment_id = 'SE' and se_count > st_count then 'SE without a matching ST'
            when segment_id = 'ST' and st_count - 1 > se_count
                then 'ST before the previous transaction ended (its SE is missing)'
            when segment_id = 'CAS' and transaction_set = '835'
                 and {d.length('elements')} > {_CAS_MAX_ELEMENTS}
                then 'CAS has more than six adjustment triplets'
            when segment_id = 'PLB' and transaction_set = '835'
                 and {d.length('elements')} > {_PLB_MAX_ELEMENTS}
                then 'PLB has more than six adjustment pairs'
            when segment_id in ('CLP', 'SVC', 'CAS') and transaction_set = '835'
                 and claim_seq is null then segment_id || ' outside a claim'
            end as problem
        from _seg
    )
    select segment_pos, segment_id, problem from (
        select * from shape where problem is not null
        union all select * from bad_numbers
        union all select * from orphans
    ) p
    order by segment_pos, prio
    limit 1
    """


def _dates_sql() -> str:
    """Distinct date values the marts cast, with their first position."""
    return """
    select v, min(segment_pos), min(segment_id) from (
        select elements[2] as v, segment_pos, segment_id from _seg
        where segment_id = 'DTM' and transaction_set = '835'
        union all
        select elements[16], segment_pos, segment_id from _seg
        where segment_id = 'BPR' and transaction_set = '835'
    ) d
    where coalesce(v, '') <> ''
    group by v
    """


def _findings_sql(d: _Dialect) -> str:
    """Envelope findings: the file still loads; each problem is recorded with its place."""
    num = d.matches("{x}", "[0-9]{1,18}")  # what fits a bigint; longer is "nothing"

    def as_int(x: str) -> str:
        return f"case when {num.replace('{x}', x)} then cast({x} as bigint) end"

    return f"""
    with txn as (
        select transaction_seq, count(*) as n,
               max(case when segment_id = 'ST' then elements[2] end) as st02
        from _seg where transaction_seq is not null group by transaction_seq
    ),
    grp as (
        select group_seq, count(distinct transaction_seq) as n,
               max(case when segment_id = 'GS' then elements[6] end) as gs06
        from _seg where group_seq is not null group by group_seq
    ),
    ich as (
        select interchange_seq, count(distinct group_seq) as n,
               max(case when segment_id = 'ISA' then elements[13] end) as isa13
        from _seg where interchange_seq > 0 group by interchange_seq
    )
    select s.segment_pos, s.segment_id, 'SE01_COUNT_MISMATCH',
           'SE01 says ' || coalesce({as_int('s.elements[1]')} || '', 'nothing')
           || ', the transaction has ' || t.n || ' segments'
    from _seg s join txn t on t.transaction_seq = s.transaction_seq
    where s.segment_id = 'SE'
      and {as_int('s.elements[1]')} is distinct from t.n
    union all
    select s.segment_pos, s.segment_id, 'CONTROL_NUMBER_MISMATCH',
           'ST02 and SE02 differ (transaction ' || t.transaction_seq || ')'
    from _seg s join txn t on t.transaction_seq = s.transaction_seq
    where s.segment_id = 'SE' and s.elements[2] is distinct from t.st02
    union all
    select s.segment_pos, s.segment_id, 'GE01_COUNT_MISMATCH',
           'GE01 says ' || coalesce({as_int('s.elements[1]')} || '', 'nothing')
           || ', the group has ' || g.n || ' transactions'
    from _seg s join grp g on g.group_seq = s.group_seq
    where s.segment_id = 'GE' and {as_int('s.elements[1]')} is distinct from g.n
    union all
    select s.segment_pos, s.segment_id, 'CONTROL_NUMBER_MISMATCH',
           'GS06 and GE02 differ (group ' || g.group_seq || ')'
    from _seg s join grp g on g.group_seq = s.group_seq
    where s.segment_id = 'GE' and s.elements[2] is distinct from g.gs06
    union all
    select s.segment_pos, s.segment_id, 'IEA01_COUNT_MISMATCH',
           'IEA01 says ' || coalesce({as_int('s.elements[1]')} || '', 'nothing')
           || ', the interchange has ' || i.n || ' groups'
    from _seg s join ich i on i.interchange_seq = s.interchange_seq
    where s.segment_id = 'IEA' and {as_int('s.elements[1]')} is distinct from i.n
    union all
    select s.segment_pos, s.segment_id, 'CONTROL_NUMBER_MISMATCH',
           'ISA13 and IEA02 differ (interchange ' || i.interchange_seq || ')'
    from _seg s join ich i on i.interchange_seq = s.interchange_seq
    where s.segment_id = 'IEA' and s.elements[2] is distinct from i.isa13
    union all
    select min(segment_pos), 'ST', 'NO_INTERCHANGE_ENVELOPE',
           'bare ST...SE with no ISA/GS envelope'
    from _seg where interchange_seq = 0 having count(*) > 0
    union all
    select segment_pos, segment_id, 'NON_835_TRANSACTION',
           'transaction ' || transaction_seq || ' is not an 835; kept, not used by the marts'
    from _seg where segment_id = 'ST' and elements[1] is distinct from '835'
    union all
    select max(segment_pos), 'GS', 'GROUP_NOT_CLOSED', 'a GS group has no GE'
    from _seg where segment_id in ('GS', 'GE')
    having sum(case when segment_id = 'GS' then 1 else -1 end) > 0
    """


def _duplicate_payment_sql(d: _Dialect) -> str:
    """Transactions of this file that pay what a file loaded before already paid: the
    same trace (TRN03 payer id + TRN02 check or EFT number) or the same envelope
    (ISA06 sender + ISA13 + ST02). One finding per transaction, on its TRN (its ST
    when it has none), naming the earliest such file. Two parameters: this file's id,
    twice. Copies inside one file are not compared (see the README's limitations)."""
    p = d.param
    return f"""
    with txn as (
        select transaction_seq, min(segment_pos) as st_pos, max(interchange_seq) as ich,
               max(isa13) as isa13, max(st02) as st02
        from _seg where transaction_set = '835' and transaction_seq is not null
        group by transaction_seq
    ),
    trn as (
        select transaction_seq, min(segment_pos) as trn_pos,
               min(elements[2]) as trn02, min(elements[3]) as trn03
        from _seg where segment_id = 'TRN' and transaction_set = '835'
        group by transaction_seq
    ),
    isa as (
        select interchange_seq, trim(elements[6]) as isa06 from _seg where segment_id = 'ISA'
    ),
    mine as (
        select t.transaction_seq, coalesce(r.trn_pos, t.st_pos) as pos,
               case when r.trn_pos is null then 'ST' else 'TRN' end as seg,
               r.trn02, r.trn03, i.isa06, t.isa13, t.st02
        from txn t
        left join trn r on r.transaction_seq = t.transaction_seq
        left join isa i on i.interchange_seq = t.ich
    ),
    by_trace as (
        select m.pos, m.seg, 1 as rule, o.file_id, o.transaction_seq
        from mine m
        join raw.segments o
          on o.segment_id = 'TRN' and o.transaction_set = '835'
         and o.elements[2] = m.trn02 and o.elements[3] = m.trn03
        where m.trn02 <> '' and m.trn03 <> '' and o.file_id <> {p}
    ),
    st_match as (
        select m.pos, m.seg, m.isa06, o.file_id, o.transaction_seq, o.interchange_seq
        from mine m
        join raw.segments o
          on o.segment_id = 'ST' and o.transaction_set = '835'
         and o.isa13 = m.isa13 and o.st02 = m.st02
        where m.isa06 is not null and o.file_id <> {p}
    ),
    by_envelope as (
        select s.pos, s.seg, 2 as rule, s.file_id, s.transaction_seq
        from st_match s
        join raw.segments i
          on i.file_id = s.file_id and i.interchange_seq = s.interchange_seq
         and i.segment_id = 'ISA' and trim(i.elements[6]) = s.isa06
    ),
    ranked as (
        select h.*, row_number() over (
            partition by h.pos
            order by h.rule, f.loaded_at, h.file_id, h.transaction_seq) as rn
        from (select * from by_trace union all select * from by_envelope) h
        join raw.file_manifest f on f.file_id = h.file_id and f.status = 'loaded'
    )
    select pos, seg, 'DUPLICATE_PAYMENT',
           case when rule = 1 then 'same TRN03+TRN02' else 'same ISA06+ISA13+ST02' end
           || ' as transaction ' || transaction_seq || ' of file ' || file_id
    from ranked where rn = 1
    order by pos
    """


_SEGMENT_COLUMNS = (
    "file_id, segment_pos, interchange_seq, group_seq, transaction_seq, isa13, gs06, st02, "
    "transaction_set, loop_id, header_seq, claim_seq, line_seq, segment_id, elements, "
    "component_sep"
)


# --------------------------------------------------------------------------- loading


def _stage(con, d: _Dialect, file_id: str, interchanges: list[Interchange]) -> None:
    cur = _cursor(con)
    for table in ("_seg", "_num", "_run", "_chunks"):
        cur.execute(f"drop table if exists {table}")
    cur.execute(
        "create temp table _chunks (ich integer, esep varchar, csep varchar, "
        "term varchar, base integer, body varchar)"
    )
    rows, base = [], 0
    for ich in interchanges:
        body = clean_body(ich)
        rows.append((ich.seq, ich.element_sep, ich.component_sep, ich.segment_term, base, body))
        base += count_segments(body, ich.segment_term)
    if d.kind == "duckdb":
        cur.executemany("insert into _chunks values (?, ?, ?, ?, ?, ?)", rows)
    else:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL).writerows(rows)
        buf.seek(0)
        cur.copy_expert("copy _chunks from stdin with (format csv)", buf)
    numbered, running_counts, contexted, *drops = _segment_sql(d, d.param)
    cur.execute(numbered)
    cur.execute(running_counts)
    cur.execute(contexted, (file_id,))
    for stmt in drops:
        cur.execute(stmt)
    cur.execute("drop table _chunks")


def _validate(con, d: _Dialect) -> None:
    """Raise _Rejection for the first problem that makes the file unusable."""
    cur = _cursor(con)
    cur.execute(_structure_problems_sql(d))
    row = cur.fetchone()
    if row:
        pos, seg_id, problem = row
        raise _Rejection(problem, pos, seg_id)

    cur.execute(
        "select max(st_count), max(se_count), "
        "sum(case when segment_id = 'ST' and elements[1] = '835' then 1 else 0 end), "
        "min(case when segment_id = 'ST' and elements[1] <> '835' then elements[1] end) "
        "from _seg"
    )
    st, se, n835, other = cur.fetchone()
    if (st or 0) > (se or 0):
        cur.execute(f"select max(segment_pos) from _seg where segment_id = 'ST' "
                    f"and st_count = {int(st)}")
        raise _Rejection("truncated: the transaction has no SE", cur.fetchone()[0], "ST")
    if not n835:
        cur.execute("select min(segment_pos) from _seg where segment_id = 'ST'")
        first_st = cur.fetchone()[0]
        if first_st is None:
            cur.execute("select segment_id from _seg where segment_pos = 1")
            raise _Rejection("no 835 transaction in the file (no ST segment)", 1,
                             cur.fetchone()[0])
        found = f" (found {other})" if other and other.isdigit() and len(other) == 3 else ""
        raise _Rejection(f"no 835 transaction in the file{found}", first_st, "ST")

    cur.execute(_dates_sql())
    bad = []
    for value, pos, seg_id in cur.fetchall():
        try:
            if len(value) != 8 or not value.isdigit():
                raise ValueError
            date(int(value[:4]), int(value[4:6]), int(value[6:]))
        except ValueError:
            bad.append((pos, seg_id))
    if bad:
        pos, seg_id = min(bad)
        element = "DTM02" if seg_id == "DTM" else "BPR16"
        raise _Rejection(f"{element} is not a valid CCYYMMDD date", pos, seg_id)


def _commit_file(con, d: _Dialect, src: _Source, file_id: str, run_id: str,
                 received_at: datetime) -> FileResult:
    cur = _cursor(con)
    p = d.param
    cur.execute(f"insert into raw.segments ({_SEGMENT_COLUMNS}) "
                f"select {_SEGMENT_COLUMNS} from _seg")
    cur.execute(_findings_sql(d))
    findings = cur.fetchall()
    cur.execute(_duplicate_payment_sql(d), (file_id, file_id))
    findings += cur.fetchall()
    if findings:
        cur.executemany(
            f"insert into raw.file_findings values ({p}, {p}, {p}, {p}, {p})",
            [(file_id, *f) for f in findings],
        )
    cur.execute(
        "select sum(case when segment_id = 'ISA' then 1 else 0 end), "
        "count(distinct case when transaction_set = '835' then transaction_seq end), "
        "sum(case when segment_id = 'CLP' and transaction_set = '835' then 1 else 0 end), "
        "count(*), "
        "min(case when segment_id = 'ST' and transaction_set = '835' then group_seq end) "
        "from _seg"
    )
    n_ich, n_txn, n_clp, n_seg, first_group = cur.fetchone()
    version = None
    if first_group is not None:  # GS08 of the group that holds the first 835
        cur.execute(f"select elements[8] from _seg where segment_id = 'GS' "
                    f"and group_seq = {int(first_group)}")
        row = cur.fetchone()
        version = row[0] if row else None
    cur.execute(
        f"insert into raw.file_manifest (file_id, file_name, source_uri, size_bytes, "
        f"received_at, loaded_at, status, error, quarantine_path, interchange_count, "
        f"transaction_count, claim_count, segment_count, x12_version, run_id) "
        f"values ({', '.join([p] * 15)})",
        (file_id, src.name, src.uri, len(src.data), received_at, _now(), LOADED, None, None,
         n_ich, n_txn, n_clp or 0, n_seg, version, run_id),
    )
    return FileResult(file_id, src.name, LOADED, segments=n_seg, claims=int(n_clp or 0),
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


def _expand(path: Path, uri: str) -> tuple[list[_Source], str | None]:
    """A file, or each X12 member of a zip archive. Returns the sources and, for a zip
    with nothing usable in it, the reason to reject the archive itself."""
    data = path.read_bytes()
    if not data.startswith(b"PK\x03\x04"):
        return [_Source(path.name, uri, data, path)], None
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
        sources = []
        for m in members:
            content = archive.read(m)
            if _looks_like_x12(content):
                sources.append(_Source(f"{path.name}!{m.filename}", f"{uri}!{m.filename}",
                                       content, None))
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
    """Load files (or zip archives of them) into the raw schema, one transaction each.

    A rejected file gets a manifest row with a one-line reason and goes to
    ``quarantine_dir`` (moved when ``move_rejected``, else copied); the rest of the
    batch goes on.
    """
    run_id = run_id or f"run-{uuid.uuid4().hex[:12]}"
    report = IngestReport(run_id)
    paths = [Path(p) for p in paths]
    d = _Dialect(wh.kind)

    with wh.connect() as con:
        ensure_schema(con, wh.kind)
        for n, path in enumerate(paths, start=1):
            uri = (source_uris or {}).get(path, str(path.resolve()))
            got = (received_at or {}).get(path, _now())
            sources, zip_reason = _expand(path, uri)
            if zip_reason:
                archive = _Source(path.name, uri, path.read_bytes(), path)
                sources = []
                report.results.append(
                    _reject(con, d, archive, _sha256(archive.data), run_id, got,
                            f"{_one_line(path.name)}: {zip_reason}", quarantine_dir,
                            move_rejected))
            for src in sources:
                result = _ingest_one(con, d, src, run_id, got, quarantine_dir, move_rejected)
                report.results.append(result)
            if progress is not None and report.results:
                progress(n, len(paths), report.results[-1])

    log.info(
        "run %s: %d loaded, %d skipped, %d rejected",
        run_id, len(report.loaded), len(report.skipped), len(report.rejected),
    )
    return report


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _reject(con, d, src, file_id, run_id, got, reason, quarantine_dir, move) -> FileResult:
    if _already_seen(con, d, file_id):
        return FileResult(file_id, src.name, SKIPPED, "already recorded")
    where = _quarantine(src, file_id, reason, quarantine_dir, move)
    _record_rejection(con, d, src, file_id, run_id, got, reason, where)
    log.warning("file %s rejected: %s", file_id[:12], reason)
    return FileResult(file_id, src.name, REJECTED, reason)


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


def _ingest_one(con, d: _Dialect, src: _Source, run_id: str, got: datetime,
                quarantine_dir: Path | None, move: bool) -> FileResult:
    file_id = _sha256(src.data)
    seen = _already_seen(con, d, file_id)
    if seen:
        log.info("file %s (%s) already %s; skipped", file_id[:12], src.name, seen)
        return FileResult(file_id, src.name, SKIPPED, f"already {seen}")

    name = _one_line(src.name)
    _begin(con, d)
    try:
        interchanges = split_interchanges(decode(src.data))
        _stage(con, d, file_id, interchanges)
        _validate(con, d)
        result = _commit_file(con, d, src, file_id, run_id, got)
        _cursor(con).execute("drop table if exists _seg")
        con.commit()
    except (X12FormatError, _Rejection) as exc:
        con.rollback()
        reason = f"{name}: {_place(exc.segment_pos, exc.segment_id)}{exc.reason}"
        return _reject(con, d, src, file_id, run_id, got, reason, quarantine_dir, move)
    except Exception as exc:
        con.rollback()
        if not _usable(con):
            raise
        # A file this loader has a bug with: it is rejected and the batch goes on. The
        # database's message is left out: it may quote the file's content.
        log.error("file %s (%s): unexpected %s while loading; rejected",
                  file_id[:12], name, type(exc).__name__)
        reason = (f"{name}: the loader failed on this file ({type(exc).__name__}); "
                  f"nothing of it was loaded")
        return _reject(con, d, src, file_id, run_id, got, reason, quarantine_dir, move)
    log.info("file %s (%s) loaded: %d segments, %d claims, %d findings",
             file_id[:12], src.name, result.segments, result.claims, result.findings)
    return result
