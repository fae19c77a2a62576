"""Files the raw load must reject, cleanly, and problems it must record, not crash on.

A rejection leaves exactly one manifest row (status ``rejected``, a one-line reason
naming the file and the segment position), moves the file to quarantine with its
reason beside it, and loads nothing of it; the other files of the batch load. The
reason never holds content: a patient name planted in every file must not appear in
any reason, finding or log record.
"""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path

import pytest
from readerkit import (
    findings,
    group,
    ingest,
    interchange,
    manifest,
    payment,
    query,
    release,
    restyle,
    row_counts,
    sample_bytes,
    segments,
    simple_835,
    table_counts,
    transaction,
    x12,
)

pytestmark = pytest.mark.integration

PHI = "PLANTEDSURNAME"  # a patient last name, planted in every file below
CLAIM = ["CLP*R1*1*100*80**MB*P1", f"NM1*QC*1*{PHI}*JOHN****MI*ZZ123", "CAS*CO*45*20"]
# 1 ISA, 2 GS, 3 ST, 4 BPR, 5 TRN, 6 DTM, 7 N1, 8 N3, 9 N4, 10 PER, 11 N1, 12 REF,
# 13 LX, 14 CLP, 15 NM1, 16 CAS, 17 SE, 18 GE, 19 IEA
BASE = simple_835(CLAIM, "80")
SECOND = simple_835(CLAIM, "80", control=2, trace="TRACE2")


def _other(st01: str, functional: str, version: str) -> str:
    return x12(interchange([group([transaction(
        ["BHT*0019*00*1*20240105*1200*CH", f"NM1*IL*1*{PHI}*JOHN****MI*ZZ123"], st01=st01)],
        functional=functional, version=version)]))


def _zip(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return buf.getvalue()


# file name: (content, reason after "<file name>: ")
REJECTS: dict[str, tuple[str | bytes, str]] = {
    "letter.835": (f"Dear {PHI},\nyour statement is attached.\n",
                   "segment 1: not X12: the file does not start with ISA or ST"),
    "empty.835": ("", "segment 1: empty file: no segments"),
    "blank.835": ("\r\n \n", "segment 1: empty file: no segments"),
    "cut_in_segment.835": (BASE[:BASE.index(PHI) + 5],
                           "segment 15 (NM1): truncated: the file ends inside this segment; "
                           "interchange 1 has no IEA"),
    "cut_before_iea.835": (BASE[:BASE.index("IEA*")],
                           "segment 18 (GE): truncated: interchange 1 ends after this segment "
                           "without an IEA"),
    "cut_in_iea.835": (BASE[:-4], "segment 19 (IEA): truncated: the file ends inside this "
                                  "segment"),
    "cut_in_second_interchange.835": (BASE + SECOND[:SECOND.index(PHI) + 3],
                                      "segment 34 (NM1): truncated: the file ends inside this "
                                      "segment; interchange 2 has no IEA"),
    "iea_missing_before_next_isa.835": (BASE[:BASE.index("IEA*")] + SECOND,
                                        "segment 18 (GE): truncated: interchange 1 has no IEA "
                                        "before the next ISA"),
    "newline_cut_before_iea.835": (restyle(BASE[:BASE.index("GE*")], terminator="\n"),
                                   "segment 17 (SE): truncated: interchange 1 ends after this "
                                   "segment without an IEA"),
    "content_after_iea.835": (BASE + f"\n{PHI} 1234\n",
                              "segment 20: unexpected content after interchange 1: "
                              "expected ISA"),
    "binary.835": (bytes(range(256)) * 8, "segment 1: not X12: binary content (NUL bytes)"),
    "binary_no_nul.835": (bytes(range(1, 256)) * 8, "segment 1: not X12: binary content"),
    "nul_at_the_end.835": (BASE.encode() + b"\x00\x00",
                           "segment 1: not X12: binary content (NUL bytes)"),
    "claim.837": (_other("837", "HC", "005010X222A1"),
                  "segment 3 (ST): no 835 transaction in the file (found 837)"),
    "status.277": (_other("277", "HN", "005010X212"),
                   "segment 3 (ST): no 835 transaction in the file (found 277)"),
    "ack.999": (_other("999", "FA", "005010X231A1"),
                "segment 3 (ST): no 835 transaction in the file (found 999)"),
    "nothing.zip": (_zip({"readme.txt": f"for {PHI}\n"}),
                    "zip archive holds no X12 file (1 member)"),
    "tiger__sample_835.txt": (sample_bytes("tiger__sample_835.txt"),
                              "segment 4 (BPR): BPR02 is not a number"),
    "charge_not_a_number.835": (BASE.replace("CLP*R1*1*100*", "CLP*R1*1*1OO*"),
                                "segment 14 (CLP): CLP03 is not a number"),
    "amount_too_large.835": (BASE.replace("CAS*CO*45*20", "CAS*CO*45*1234567890123456"),
                             "segment 16 (CAS): CAS03 is not a number"),
    "cas_amount_missing.835": (BASE.replace("CAS*CO*45*20", "CAS*CO*45*20**253"),
                               "segment 16 (CAS): CAS06 is missing"),
    "bad_date.835": (BASE.replace("DTM*405*20240104", "DTM*405*20240230"),
                     "segment 6 (DTM): DTM02 is not a valid CCYYMMDD date"),
    "stray_line.835": (restyle(BASE, terminator="\n").replace("NM1*QC", f"{PHI} JOHN\nNM1*QC"),
                       "segment 15: invalid segment id"),
    "no_se.835": (BASE.replace("SE*15*0001~", ""),
                  "segment 3 (ST): truncated: the transaction has no SE"),
    "cas_before_clp.835": (BASE.replace("LX*1~", "LX*1~CAS*CO*45*1~"),
                           "segment 14 (CAS): CAS outside a claim"),
}
GOOD = {"good.835": simple_835(["CLP*G1*1*100*100**MB*P1", f"NM1*QC*1*{PHI}*ANN"], "100",
                               trace="GOOD1")}
ONLY_837_ZIP = _zip({"claims.837": _other("837", "HC", "005010X222A1").replace("*1*", "*2*")})


@pytest.fixture(scope="module")
def rejected(tmp_path_factory):
    """One batch: every reject case, a zip holding only an 837, and a good file."""
    tmp = tmp_path_factory.mktemp("rejects")
    files = {**GOOD, **{name: content for name, (content, _) in REJECTS.items()},
             "only837.zip": ONLY_837_ZIP}
    batch = ingest(tmp, files)
    yield batch, files
    release()


@pytest.mark.parametrize("name", sorted(REJECTS))
def test_rejection_reason_manifest_and_quarantine(rejected, name):
    batch, files = rejected
    result = batch.result(name)
    expected = f"{name}: {REJECTS[name][1]}"
    assert (result.status, result.reason) == ("rejected", expected)

    rows = manifest(batch.wh, result.file_id)
    assert len(rows) == 1
    row = rows[0]
    assert (row["status"], row["error"], row["loaded_at"], row["file_name"]) == (
        "rejected", expected, None, name)
    assert row_counts(batch.wh, result.file_id) == {
        "file_manifest": 1, "segments": 0, "file_findings": 0}

    moved = Path(row["quarantine_path"])
    assert moved.parent == batch.quarantine
    content = files[name]
    assert moved.read_bytes() == (content.encode() if isinstance(content, str) else content)
    assert Path(str(moved) + ".reason.txt").read_text() == expected + "\n"
    assert not (batch.inbox / name).exists()  # moved, not copied
    assert "\n" not in row["error"] and PHI not in row["error"]


def test_the_rest_of_the_batch_loads(rejected):
    batch, _ = rejected
    good = batch.result("good.835")
    assert good.status == "loaded"
    assert row_counts(batch.wh, good.file_id)["segments"] == 18  # ISA GS ST, 10, 2, SE GE IEA
    assert len(batch.report.rejected) == len(REJECTS) + 1
    assert len(batch.report.loaded) == 1


def test_a_zip_with_only_an_837_rejects_its_member(rejected):
    batch, _ = rejected
    result = batch.result("only837.zip!claims.837")
    assert result.reason == ("only837.zip!claims.837: segment 3 (ST): no 835 transaction "
                             "in the file (found 837)")
    assert row_counts(batch.wh, result.file_id)["segments"] == 0


def test_nothing_partial_is_left_in_the_warehouse(rejected):
    batch, _ = rejected
    good = batch.result("good.835").file_id
    assert query(batch.wh, "select count(*) from raw.segments where file_id <> ?",
                 [good]) == [(0,)]
    assert query(batch.wh, "select count(*) from raw.file_findings where file_id <> ?",
                 [good]) == [(0,)]
    assert query(batch.wh, "select status, count(*) from raw.file_manifest group by status "
                           "order by status") == [("loaded", 1), ("rejected", len(REJECTS) + 1)]


def test_no_patient_data_in_reasons_findings_or_logs(tmp_path, caplog):
    files = {**GOOD, **{name: content for name, (content, _) in REJECTS.items()},
             "findings.835": BASE.replace("SE*15*0001", "SE*99*0009")}
    with caplog.at_level(logging.DEBUG):
        batch = ingest(tmp_path, files)
    assert len(batch.report.rejected) == len(REJECTS)
    assert findings(batch.wh, batch.file_id("findings.835"))  # there is something to check
    texts = [r.getMessage() for r in caplog.records]
    texts += [r.reason for r in batch.report.results]
    texts += [row[0] or "" for row in query(batch.wh, "select error from raw.file_manifest")]
    texts += [row[0] for row in query(batch.wh, "select detail from raw.file_findings")]
    texts += [p.read_text() for p in batch.quarantine.glob("*.reason.txt")]
    assert len(caplog.records) >= len(files)
    assert not [t for t in texts if PHI in t or "JOHN" in t]


def test_rejection_on_postgres_too(tmp_path, warehouse):
    names = ["cut_in_segment.835", "claim.837", "charge_not_a_number.835"]
    batch = ingest(tmp_path, {**GOOD, **{n: REJECTS[n][0] for n in names}}, warehouse)
    for name in names:
        result = batch.result(name)
        assert result.reason == f"{name}: {REJECTS[name][1]}"
        assert row_counts(warehouse, result.file_id) == {
            "file_manifest": 1, "segments": 0, "file_findings": 0}
    assert batch.result("good.835").status == "loaded"
    assert table_counts(warehouse) == {"file_manifest": 4, "segments": 18, "file_findings": 0}


def test_cli_exit_code_says_something_was_rejected(tmp_path):
    from etl.cli import EXIT_OK, EXIT_PROBLEMS, main

    release()
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "good.835").write_text(GOOD["good.835"])
    wh = str(tmp_path / "w.duckdb")
    args = ["ingest", "--warehouse", wh, "--data-dir", str(tmp_path / "var")]
    assert main([*args, "--source", str(inbox)]) == EXIT_OK
    (inbox / "claim.837").write_text(REJECTS["claim.837"][0])
    assert main([*args, "--source", str(inbox)]) == EXIT_PROBLEMS


# --------------------------------------------------------------------------- findings


def test_envelope_problems_are_findings_with_positions(tmp_path):
    """Interchange 1 is correct (17 segments); every count and control number of
    interchange 2 is wrong, so its findings sit at segments 32 (SE), 33 (GE), 34 (IEA)."""
    body = payment(["CLP*E1*1*100*100**MB*P1"], bpr02="100")
    good = x12(interchange([group([transaction(body, "0001")], "1")], 1))
    bad = x12(interchange([group([transaction(body, "0002", se01=99, se02="0009")], "2",
                                 ge01=5, ge02="7")], 2, iea01=3, iea02="000000008"))
    batch = ingest(tmp_path, {"envelope.835": good + bad})
    fid = batch.file_id("envelope.835")
    assert findings(batch.wh, fid) == [
        (32, "SE", "CONTROL_NUMBER_MISMATCH", "ST02 and SE02 differ (transaction 2)"),
        (32, "SE", "SE01_COUNT_MISMATCH", "SE01 says 99, the transaction has 13 segments"),
        (33, "GE", "CONTROL_NUMBER_MISMATCH", "GS06 and GE02 differ (group 2)"),
        (33, "GE", "GE01_COUNT_MISMATCH", "GE01 says 5, the group has 1 transactions"),
        (34, "IEA", "CONTROL_NUMBER_MISMATCH", "ISA13 and IEA02 differ (interchange 2)"),
        (34, "IEA", "IEA01_COUNT_MISMATCH", "IEA01 says 3, the interchange has 1 groups"),
    ]
    row = manifest(batch.wh, fid)[0]
    assert (row["status"], row["segment_count"], row["transaction_count"]) == ("loaded", 34, 2)


def test_a_count_that_is_not_a_number_is_a_finding(tmp_path):
    text = BASE.replace("SE*15*0001", "SE*X*0001")
    batch = ingest(tmp_path, {"se01.835": text})
    assert findings(batch.wh, batch.file_id("se01.835")) == [
        (17, "SE", "SE01_COUNT_MISMATCH", "SE01 says nothing, the transaction has 15 segments")]


def _pay(trace: str, payer_id: str, control: int, st02s=("0001",), sender="SENDER") -> str:
    transactions = [transaction(payment(["CLP*D1*1*100*100**MB*P1"], bpr02="100",
                                        trace=f"{trace}{i}" if i else trace,
                                        payer_id=payer_id), st02)
                    for i, st02 in enumerate(st02s)]
    return x12(interchange([group(transactions, str(control))], control, sender=sender))


def test_duplicate_payment_is_a_finding_on_the_later_file(tmp_path, warehouse):
    first = ingest(tmp_path, {"a.835": _pay("CHK100", "1111111111", 1)}, warehouse,
                   inbox="run1")
    a = first.file_id("a.835")
    batch = ingest(tmp_path, {
        # the same check re-sent under a new ISA13, as the second of two transactions
        "b.835": _pay("OTHER", "1111111111", 2, st02s=("0001", "0002")).replace(
            "OTHER1", "CHK100"),
        # the same envelope (ISA06 + ISA13 + ST02), another trace
        "c.835": _pay("CHK999", "1111111111", 1),
        # the same TRN02 from another payer (TRN03), another envelope: not a duplicate
        "d.835": _pay("CHK100", "2222222222", 3),
        # the same ISA13 + ST02 from another sender: not a duplicate
        "e.835": _pay("CHK555", "1111111111", 1, sender="OTHERSENDER"),
        "a_again.835": _pay("CHK100", "1111111111", 1),  # the same bytes: skipped
    }, warehouse, inbox="run2")
    # b: ISA GS, transaction 1 (ST at 3, 13 segments), transaction 2 (ST at 16, TRN at 18)
    assert findings(warehouse, batch.file_id("b.835")) == [
        (18, "TRN", "DUPLICATE_PAYMENT", f"same TRN03+TRN02 as transaction 1 of file {a}")]
    assert findings(warehouse, batch.file_id("c.835")) == [
        (5, "TRN", "DUPLICATE_PAYMENT", f"same ISA06+ISA13+ST02 as transaction 1 of file {a}")]
    assert findings(warehouse, batch.file_id("d.835")) == []
    assert findings(warehouse, batch.file_id("e.835")) == []
    assert findings(warehouse, a) == []
    assert batch.result("a_again.835").status == "skipped"


# --------------------------------------------------------------------------- idempotence


@pytest.mark.parametrize("move", [True, False])
def test_loading_the_same_folder_twice_changes_nothing(tmp_path, move):
    files = {**GOOD, "findings.835": BASE.replace("SE*15*0001", "SE*99*0001"),
             "claim.837": REJECTS["claim.837"][0], "era.zip": _zip({"x.835": SECOND})}
    first = ingest(tmp_path, files, move=move)
    assert sorted(r.status for r in first.report.results) == [
        "loaded", "loaded", "loaded", "rejected"]

    def snapshot():
        return {t: query(first.wh, f"select * from raw.{t} order by all")
                for t in ("file_manifest", "segments", "file_findings")}

    before = snapshot()
    from etl.loader import ingest_paths

    release()
    again = ingest_paths(sorted(first.inbox.iterdir()), first.wh,
                         quarantine_dir=first.quarantine, move_rejected=move)
    assert {r.status for r in again.results} == {"skipped"}
    assert len(again.results) == (4 if not move else 3)
    assert snapshot() == before
    assert len(list(first.quarantine.glob("*.reason.txt"))) == 1


def test_segments_of_a_rejected_file_never_reach_the_table_even_late(tmp_path):
    """The failing check is the last segment of a long file: nothing of it lands."""
    claims = [f"CLP*L{i}*1*10*10**MB*P{i}" for i in range(200)] + ["CLP*LAST*1*X*10**MB*PX"]
    batch = ingest(tmp_path, {"late.835": simple_835(claims, "2000")})
    result = batch.result("late.835")
    assert result.reason == "late.835: segment 214 (CLP): CLP03 is not a number"
    assert row_counts(batch.wh, result.file_id)["segments"] == 0
    assert segments(batch.wh, result.file_id) == []


def test_a_count_too_long_for_a_number_is_a_finding_not_a_crash(tmp_path):
    text = BASE.replace("SE*15*0001", "SE*99999999999999999999999*0001")
    batch = ingest(tmp_path, {"se01.835": text})
    assert findings(batch.wh, batch.file_id("se01.835")) == [
        (17, "SE", "SE01_COUNT_MISMATCH", "SE01 says nothing, the transaction has 15 segments")]


def test_a_loader_failure_rejects_the_file_and_the_batch_goes_on(tmp_path, monkeypatch,
                                                                 caplog):
    """A database error on one file's data (a bug of ours) must not stop the run, nor
    put the error's text, which may quote the file, into the reason or the log."""
    import etl.loader as loader

    real = loader._commit_file

    def failing(con, d, src, *args):
        if src.name == "bad.835":
            raise RuntimeError(f"conversion failed near '{PHI}'")
        return real(con, d, src, *args)

    monkeypatch.setattr(loader, "_commit_file", failing)
    with caplog.at_level(logging.INFO):
        batch = ingest(tmp_path, {"bad.835": BASE, **GOOD})
    result = batch.result("bad.835")
    assert result.reason == ("bad.835: the loader failed on this file (RuntimeError); "
                             "nothing of it was loaded")
    assert row_counts(batch.wh, result.file_id) == {
        "file_manifest": 1, "segments": 0, "file_findings": 0}
    assert batch.result("good.835").status == "loaded"
    assert not [r for r in caplog.records if PHI in r.getMessage()]
