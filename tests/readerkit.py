"""Helpers shared by the reader tests (``test_reader_*.py``).

- Building 835 text by hand: ``isa``, ``transaction``, ``group``, ``interchange``,
  ``payment`` and ``x12`` write segments with ``*``, ``:``, ``^`` and ``~``;
  ``restyle`` turns them into any other delimiters and line breaks. Data in these
  files never holds those characters, so the translation is exact.
- Loading: ``ingest`` writes files into ``tmp_path/inbox`` and runs the real
  ``etl.loader.ingest_paths`` into a DuckDB file (or the warehouse given).
- Reading back: ``segments``, ``findings``, ``manifest``, ``row_counts`` and
  ``metrics`` (claim, line and CAS-triplet counts and money sums computed in SQL
  over ``raw.segments``, independently of the marts).
- ``oxedi_metrics``: the same figures from oxedi, an independent 835 parser.
- ``samples_dir``: the public sample files, read from ``../shared/samples`` at test
  time and never copied into the repository.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from etl.loader import FileResult, IngestReport, ingest_paths
from etl.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]


def samples_dir() -> Path:
    """``$ERAFLOW_SAMPLES``, else ``../shared/samples`` beside the repository."""
    for candidate in (os.environ.get("ERAFLOW_SAMPLES"), REPO.parent / "shared" / "samples",
                      Path("/work/shared/samples")):
        if candidate and Path(candidate, "SOURCES.tsv").is_file():
            return Path(candidate)
    pytest.skip("the public sample files (../shared/samples) are not here")


def sample_bytes(name: str) -> bytes:
    return (samples_dir() / name).read_bytes()


# --------------------------------------------------------------------------- building


def isa(control: int = 1, *, sender: str = "SENDER", receiver: str = "RECEIVER",
        version: str = "00501") -> str:
    """A fixed-width ISA (106 characters with its terminator), without the terminator."""
    repetition = "^" if version >= "00501" else "U"
    text = "*".join([
        "ISA", "00", " " * 10, "00", " " * 10, "ZZ", sender.ljust(15), "ZZ",
        receiver.ljust(15), "240105", "1200", repetition, version, f"{control:09d}", "0",
        "P", ":",
    ])
    assert len(text) == 105
    return text


def transaction(body: list[str], st02: str = "0001", *, st01: str = "835",
                se01: int | str | None = None, se02: str | None = None) -> list[str]:
    """ST, the body, SE with the right count unless told otherwise."""
    count = len(body) + 2 if se01 is None else se01
    return [f"ST*{st01}*{st02}", *body, f"SE*{count}*{st02 if se02 is None else se02}"]


def group(transactions: list[list[str]], gs06: str = "1", *,
          version: str = "005010X221A1", functional: str = "HP",
          ge01: int | str | None = None, ge02: str | None = None) -> list[str]:
    count = len(transactions) if ge01 is None else ge01
    body = [seg for t in transactions for seg in t]
    return [f"GS*{functional}*SENDER*RECEIVER*20240105*1200*{gs06}*X*{version}", *body,
            f"GE*{count}*{gs06 if ge02 is None else ge02}"]


def interchange(groups: list[list[str]], control: int = 1, *, version: str = "00501",
                sender: str = "SENDER", iea01: int | str | None = None,
                iea02: str | None = None) -> list[str]:
    count = len(groups) if iea01 is None else iea01
    body = [seg for g in groups for seg in g]
    return [isa(control, sender=sender, version=version), *body,
            f"IEA*{count}*{iea02 if iea02 is not None else f'{control:09d}'}"]


def payment(claims: list[str], *, bpr02: str, trace: str = "TRACE1",
            payer_id: str = "1999999999", payer: str = "TEST PAYER",
            payee: str = "TEST CLINIC", plb: list[str] = ()) -> list[str]:
    """The body of one 835 transaction (ST and SE left out): header, payer and payee
    loops, one LX, the claim segments given, then the PLB segments."""
    return [
        f"BPR*I*{bpr02}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999999999*DA*"
        f"654321*20240105",
        f"TRN*1*{trace}*{payer_id}",
        "DTM*405*20240104",
        f"N1*PR*{payer}",
        "N3*1 MAIN ST",
        "N4*SPRINGFIELD*IL*62701",
        "PER*BL*EDI DESK*TE*5550100",
        f"N1*PE*{payee}*XX*1999999999",
        "REF*TJ*123456789",
        "LX*1",
        *claims,
        *plb,
    ]


def x12(segments: list[str]) -> str:
    """Segments joined with ``~`` terminators."""
    return "".join(seg + "~" for seg in segments)


def restyle(text: str, *, element: str = "*", component: str = ":", repetition: str = "^",
            terminator: str = "~", line_break: str = "") -> str:
    """The same file with other delimiters and a line break after each terminator."""
    table = str.maketrans({"*": element, ":": component, "^": repetition,
                           "~": terminator + line_break})
    return text.translate(table)


def simple_835(claims: list[str], bpr02: str, *, control: int = 1, trace: str = "TRACE1",
               plb: list[str] = (), st02: str = "0001") -> str:
    """One interchange, one group, one transaction around the claim segments."""
    body = payment(claims, bpr02=bpr02, trace=trace, plb=plb)
    return x12(interchange([group([transaction(body, st02)], str(control))], control))


# --------------------------------------------------------------------------- loading


@dataclass
class Batch:
    report: IngestReport
    wh: Warehouse
    inbox: Path
    quarantine: Path

    def result(self, name: str) -> FileResult:
        found = [r for r in self.report.results if r.name == name]
        assert len(found) == 1, (name, [r.name for r in self.report.results])
        return found[0]

    def file_id(self, name: str) -> str:
        result = self.result(name)
        assert result.status == "loaded", (name, result.status, result.reason)
        return result.file_id


def ingest(tmp_path: Path, files: dict[str, str | bytes], wh: Warehouse | None = None, *,
           move: bool = True, run_id: str | None = None, inbox: str = "inbox") -> Batch:
    """Write ``files`` into ``tmp_path/inbox`` and load them, in the order given."""
    folder = tmp_path / inbox
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in files.items():
        path = folder / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        paths.append(path)
    wh = wh or Warehouse.from_url(str(tmp_path / "warehouse.duckdb"))
    quarantine = tmp_path / "quarantine"
    release()
    report = ingest_paths(paths, wh, quarantine_dir=quarantine, run_id=run_id,
                          move_rejected=move)
    return Batch(report, wh, folder, quarantine)


# --------------------------------------------------------------------------- reading back

SEGMENT_COLUMNS = ("segment_pos", "interchange_seq", "group_seq", "transaction_seq", "isa13",
                   "gs06", "st02", "transaction_set", "loop_id", "header_seq", "claim_seq",
                   "line_seq", "segment_id", "elements", "component_sep")


def _p(wh: Warehouse) -> str:
    return "?" if wh.kind == "duckdb" else "%s"


_READERS: dict[str, object] = {}


def query(wh: Warehouse, sql: str, params: list | None = None) -> list[tuple]:
    """``wh.query`` on one cached read-only DuckDB connection (opening one costs more
    than the queries of a test); ``release`` closes it before the next load."""
    if wh.kind != "duckdb":
        return wh.query(sql, params)
    con = _READERS.get(wh.url)
    if con is None:
        import duckdb

        con = _READERS[wh.url] = duckdb.connect(str(wh.path), read_only=True)
    return con.execute(sql, params or []).fetchall()


def release() -> None:
    """Close the cached read-only connections (a writer cannot open beside them)."""
    while _READERS:
        _READERS.popitem()[1].close()


def segments(wh: Warehouse, file_id: str) -> list[dict]:
    rows = query(wh, f"select {', '.join(SEGMENT_COLUMNS)} from raw.segments "
                    f"where file_id = {_p(wh)} order by segment_pos", [file_id])
    return [dict(zip(SEGMENT_COLUMNS, (list(v) if isinstance(v, (list, tuple)) else v
                                       for v in row))) for row in rows]


def id_elements(wh: Warehouse, file_id: str) -> list[tuple[str, list[str]]]:
    """(segment id, elements) of every segment, in file order."""
    return [(r["segment_id"], r["elements"]) for r in segments(wh, file_id)]


def as_pairs(segs: list[str], element: str = "*") -> list[tuple[str, list[str]]]:
    """What ``id_elements`` must give for segments written by hand."""
    out = []
    for seg in segs:
        parts = seg.split(element)
        out.append((parts[0], parts[1:]))
    return out


def findings(wh: Warehouse, file_id: str) -> list[tuple]:
    return query(wh, f"select segment_pos, segment_id, finding_code, detail "
                    f"from raw.file_findings where file_id = {_p(wh)} "
                    f"order by segment_pos, finding_code, detail", [file_id])


MANIFEST_COLUMNS = ("file_id", "file_name", "source_uri", "size_bytes", "loaded_at", "status",
                    "error", "quarantine_path", "interchange_count", "transaction_count",
                    "claim_count", "segment_count", "x12_version", "run_id")


def manifest(wh: Warehouse, file_id: str | None = None) -> list[dict]:
    where, params = ("", [])
    if file_id is not None:
        where, params = f"where file_id = {_p(wh)}", [file_id]
    rows = query(wh, f"select {', '.join(MANIFEST_COLUMNS)} from raw.file_manifest {where} "
                    f"order by file_name", params)
    return [dict(zip(MANIFEST_COLUMNS, row)) for row in rows]


def row_counts(wh: Warehouse, file_id: str) -> dict[str, int]:
    out = {}
    for table in ("file_manifest", "segments", "file_findings"):
        out[table] = query(wh, f"select count(*) from raw.{table} where file_id = {_p(wh)}",
                              [file_id])[0][0]
    return out


def table_counts(wh: Warehouse) -> dict[str, int]:
    return {t: query(wh, f"select count(*) from raw.{t}")[0][0]
            for t in ("file_manifest", "segments", "file_findings")}


METRICS = ("claims", "service_lines", "cas_triplets", "clp03", "clp04", "clp05", "svc02",
           "svc03", "cas_amount")


def _amount(expr: str) -> str:
    return f"coalesce(cast(nullif({expr}, '') as decimal(18,2)), 0)"


def metrics(wh: Warehouse, file_id: str) -> dict[str, Decimal | int]:
    """Counts and sums of the 835 transactions of a loaded file, straight from
    ``raw.segments``. A CAS triplet is one whose reason code (CAS02, 05, ...) is sent."""
    cas_sum = " + ".join(_amount(f"elements[{3 + 3 * k}]") for k in range(6))
    cas_n = " + ".join(f"case when coalesce(elements[{2 + 3 * k}], '') <> '' then 1 else 0 end"
                       for k in range(6))

    def over(seg: str, expr: str) -> str:
        return f"coalesce(sum(case when segment_id = '{seg}' then {expr} end), 0)"

    row = query(wh, f"""
        select {over('CLP', '1')}, {over('SVC', '1')}, {over('CAS', cas_n)},
               {over('CLP', _amount('elements[3]'))}, {over('CLP', _amount('elements[4]'))},
               {over('CLP', _amount('elements[5]'))}, {over('SVC', _amount('elements[2]'))},
               {over('SVC', _amount('elements[3]'))}, {over('CAS', cas_sum)}
        from raw.segments where file_id = {_p(wh)} and transaction_set = '835'
    """, [file_id])[0]
    return {k: (int(v) if k in METRICS[:3] else Decimal(v).quantize(Decimal("0.01")))
            for k, v in zip(METRICS, row)}


def oxedi_metrics(data: bytes, delimiters=None) -> dict[str, Decimal | int]:
    """The same figures from oxedi's projected tables (claims, services, adjustments),
    read through the Arrow capsule by an in-memory DuckDB."""
    import duckdb
    import oxedi

    tables = oxedi.parse(data, delimiters=delimiters).tables
    con = duckdb.connect()

    def total(table: str, column: str) -> Decimal:
        arrow = tables[table]  # noqa: F841 (DuckDB finds it by name)
        value = con.execute(f"select coalesce(sum({column}), 0) from arrow").fetchone()[0]
        return Decimal(value).quantize(Decimal("0.01"))

    out = {
        "claims": len(tables["claims"]),
        "service_lines": len(tables["services"]),
        "cas_triplets": len(tables["adjustments"]),
        "clp03": total("claims", "charge_amount"),
        "clp04": total("claims", "payment_amount"),
        "clp05": total("claims", "patient_responsibility"),
        "svc02": total("services", "charge_amount"),
        "svc03": total("services", "payment_amount"),
        "cas_amount": total("adjustments", "amount"),
    }
    con.close()
    return out


def wrap_bare(text: str) -> str:
    """A bare ST...SE file (no ISA/GS) inside a minimal envelope, for readers (oxedi)
    that need one. The transactions are left as they are."""
    body = text.strip()
    n = len(re.findall(r"(?:^|~)\s*ST\*", body))
    return (isa(1) + "~" + "GS*HP*SENDER*RECEIVER*20240105*1200*1*X*005010X221A1~" + body
            + ("" if body.endswith("~") else "~") + f"GE*{n}*1~IEA*1*000000001~")
