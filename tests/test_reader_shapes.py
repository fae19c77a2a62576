"""Shapes of real 835 files that the raw load must keep whole.

Every expected value here was worked out by hand from the segments written in the
test (the sums are in the comments), never read back from the reader under test.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from decimal import Decimal

import pytest
from readerkit import (
    as_pairs,
    findings,
    group,
    id_elements,
    ingest,
    interchange,
    manifest,
    metrics,
    payment,
    query,
    restyle,
    sample_bytes,
    samples_dir,
    segments,
    simple_835,
    transaction,
    x12,
)

pytestmark = pytest.mark.integration

D = Decimal


# --------------------------------------------------------------------------- CAS

CAS_CLAIM = [
    # 380 charged; lines pay 78.4 + 63.4 + 60 + 40 = 241.8; PR = 10 + 5 + 5 + 10 = 30
    "CLP*C1*1*380*241.8*30*MB*P1",
    "SVC*HC:99213*100*78.4**1",
    "CAS*CO*45*20*1*253*1.6",  # 2 triplets with quantities: 100 - 21.6 = 78.4
    "SVC*HC:99214*100*63.4**1",
    "CAS*CO*45*30**253*1.6**94*5*",  # 3 triplets, empty quantity slots: 100 - 36.6
    "SVC*HC:99215*100*60**1",
    # 6 triplets, a negative amount in the 5th: 10 + 1 + 20 + 5 - 2 + 6 = 40
    "CAS*CO*45*10*1*253*1*1*97*20*1*16*5*1*59*-2*1*B7*6*1",
    "SVC*HC:99212*80*40**1",
    "CAS*PR*1*10*1*2*5*1*3*5*1*96*10*1",  # 4 triplets: 30
    "CAS*OA*23*2*1*94*1*1*45*2*1*A1*1*1*B10*4*1",  # 5 triplets: 10
]


def test_cas_with_two_to_six_triplets_keeps_every_triplet(tmp_path):
    text = simple_835(CAS_CLAIM, "241.8")
    batch = ingest(tmp_path, {"cas.835": text})
    fid = batch.file_id("cas.835")

    cas = [r for r in segments(batch.wh, fid) if r["segment_id"] == "CAS"]
    assert [r["elements"] for r in cas] == [
        ["CO", "45", "20", "1", "253", "1.6"],
        ["CO", "45", "30", "", "253", "1.6", "", "94", "5", ""],
        ["CO", "45", "10", "1", "253", "1", "1", "97", "20", "1", "16", "5", "1", "59", "-2",
         "1", "B7", "6", "1"],
        ["PR", "1", "10", "1", "2", "5", "1", "3", "5", "1", "96", "10", "1"],
        ["OA", "23", "2", "1", "94", "1", "1", "45", "2", "1", "A1", "1", "1", "B10", "4",
         "1"],
    ]
    assert [(r["loop_id"], r["claim_seq"], r["line_seq"]) for r in cas] == [
        ("2110", 1, 1), ("2110", 1, 2), ("2110", 1, 3), ("2110", 1, 4), ("2110", 1, 4)]
    m = metrics(batch.wh, fid)
    assert m["cas_triplets"] == 2 + 3 + 6 + 4 + 5
    assert m["cas_amount"] == D("138.20")  # 21.6 + 36.6 + 40 + 30 + 10 = 380 - 241.8
    assert (m["clp03"], m["clp04"], m["clp05"]) == (D("380.00"), D("241.80"), D("30.00"))
    assert (m["svc02"], m["svc03"]) == (D("380.00"), D("241.80"))


def test_co253_in_a_later_triplet_is_kept(tmp_path):
    """The loss the issue names: CO-253 as the second triplet of a CAS."""
    batch = ingest(tmp_path, {"seq.835": simple_835(CAS_CLAIM[:3], "78.4")})
    fid = batch.file_id("seq.835")
    co253 = query(batch.wh, 
        "select sum(cast(elements[6] as decimal(18,2))) from raw.segments "
        "where file_id = ? and segment_id = 'CAS' and elements[1] = 'CO' "
        "and elements[5] = '253'", [fid])[0][0]
    assert co253 == D("1.60")


# --------------------------------------------------------------------------- claim level

CLAIM_LEVEL = [
    # inpatient Part A, no service lines: 10000 - 800 - 160 - 1200 = 7840
    "CLP*PA1*1*10000*7840*1200*MA*PAYERCLM1*11*1",
    "CAS*CO*45*800*0*253*160",
    "CAS*PR*1*1200",
    "NM1*QC*1*DOE*JANE****MI*ZZ0001",
    "DTM*232*20240101",
    "DTM*233*20240103",
    # professional: claim-level OA-23 10 and line-level 20 + 3 + 20 = 43; 200 - 53 = 147
    "CLP*PB1*1*200*147*20*MB*PAYERCLM2",
    "CAS*OA*23*10",
    "NM1*QC*1*DOE*JOHN****MI*ZZ0002",
    "SVC*HC:99213*200*157**1",
    "DTM*472*20240102",
    "CAS*CO*45*20*1*253*3",
    "CAS*PR*2*20",
]


def test_claim_level_cas_and_claims_without_lines_in_one_file(tmp_path):
    batch = ingest(tmp_path, {"inpatient.835": simple_835(CLAIM_LEVEL, "7987")})
    fid = batch.file_id("inpatient.835")
    rows = segments(batch.wh, fid)

    got = [(r["segment_id"], r["loop_id"], r["claim_seq"], r["line_seq"]) for r in rows
           if r["loop_id"] in ("2100", "2110")]
    assert got == [
        ("CLP", "2100", 1, None), ("CAS", "2100", 1, None), ("CAS", "2100", 1, None),
        ("NM1", "2100", 1, None), ("DTM", "2100", 1, None), ("DTM", "2100", 1, None),
        ("CLP", "2100", 2, None), ("CAS", "2100", 2, None), ("NM1", "2100", 2, None),
        ("SVC", "2110", 2, 1), ("DTM", "2110", 2, 1), ("CAS", "2110", 2, 1),
        ("CAS", "2110", 2, 1),
    ]
    claim_level = query(batch.wh, 
        "select loop_id, sum(cast(elements[3] as decimal(18,2)) "
        "+ coalesce(cast(nullif(elements[6], '') as decimal(18,2)), 0)) "
        "from raw.segments where file_id = ? and segment_id = 'CAS' group by loop_id "
        "order by loop_id", [fid])
    assert claim_level == [("2100", D("2170.00")), ("2110", D("43.00"))]
    m = metrics(batch.wh, fid)
    assert (m["claims"], m["service_lines"], m["cas_triplets"]) == (2, 1, 7)
    assert m["clp03"] - m["cas_amount"] == m["clp04"]  # 10200 - 2213 = 7987
    assert manifest(batch.wh, fid)[0]["claim_count"] == 2


# --------------------------------------------------------------------------- envelopes


def _two_payments() -> str:
    first = payment(["CLP*A1*1*100*100**MB*P1"], bpr02="100", trace="T1", payer="PAYER ONE",
                    payee="CLINIC ONE")
    second = payment(["CLP*B1*1*50*40*10*MC*P2", "CAS*PR*1*10",
                      "CLP*B2*4*70*0**MC*P3", "CAS*CO*50*70"],
                     bpr02="40", trace="T2", payer="PAYER TWO", payee="CLINIC TWO")
    second.insert(second.index("CLP*B2*4*70*0**MC*P3"), "LX*2")
    return x12(interchange([group([transaction(first, "0001"), transaction(second, "0002")])]))


def test_several_transactions_each_with_its_own_payer_and_payee(tmp_path):
    batch = ingest(tmp_path, {"two_st.835": _two_payments()})
    fid = batch.file_id("two_st.835")
    rows = segments(batch.wh, fid)

    def loop(seq, seg, first=None):
        return [r["loop_id"] for r in rows if r["transaction_seq"] == seq
                and r["segment_id"] == seg and (first is None or r["elements"][0] == first)]

    n1 = [(r["transaction_seq"], r["st02"], r["loop_id"], r["elements"][1]) for r in rows
          if r["segment_id"] == "N1"]
    assert n1 == [(1, "0001", "1000A", "PAYER ONE"), (1, "0001", "1000B", "CLINIC ONE"),
                  (2, "0002", "1000A", "PAYER TWO"), (2, "0002", "1000B", "CLINIC TWO")]
    assert loop(2, "N3") == ["1000A"] and loop(2, "PER") == ["1000A"]
    assert loop(2, "REF", "TJ") == ["1000B"]
    assert loop(2, "BPR") == ["header"] and loop(2, "TRN") == ["header"]
    clp = [(r["transaction_seq"], r["header_seq"], r["claim_seq"]) for r in rows
           if r["segment_id"] == "CLP"]
    assert clp == [(1, 1, 1), (2, 1, 1), (2, 2, 2)]
    assert [r["transaction_seq"] for r in rows if r["segment_id"] in ("GS", "GE")] == [None,
                                                                                       None]
    assert findings(batch.wh, fid) == []
    m = manifest(batch.wh, fid)[0]
    # ISA GS, 10 header segments + 1 claim + ST SE, 10 + 5 + ST SE, GE IEA
    assert (m["transaction_count"], m["claim_count"], m["segment_count"]) == (2, 3, 34)


def test_several_interchanges_with_different_delimiters(tmp_path):
    one = x12(interchange([group([transaction(payment(
        ["CLP*A1*1*100*80**MB*P1", "SVC*HC:99213*100*80**1", "CAS*CO*45*20"],
        bpr02="80", trace="T1"), "0001")], "11")], 1))
    two = restyle(x12(interchange([group([transaction(payment(
        ["CLP*A2*1*60*60**MB*P2", "SVC*HC:99214:25*60*60**1"], bpr02="60", trace="T2"),
        "0001")], "12")], 2)), element="|", component=">", repetition="!", terminator="\n")
    three = restyle(x12(interchange([group([transaction(payment(
        ["CLP*A3*1*30*25**MB*P3", "SVC*AD:D0120*30*25**1", "CAS*CO*45*5"],
        bpr02="25", trace="T3"), "0001")], "13")], 3)), element="!", component="^",
        repetition="{", line_break="\r\n")
    batch = ingest(tmp_path, {"three_isa.835": one + "\n\n" + two + "\r\n" + three})
    fid = batch.file_id("three_isa.835")
    rows = segments(batch.wh, fid)

    assert [(r["interchange_seq"], r["isa13"], r["component_sep"]) for r in rows
            if r["segment_id"] == "ISA"] == [(1, "000000001", ":"), (2, "000000002", ">"),
                                             (3, "000000003", "^")]
    assert [(r["interchange_seq"], r["transaction_seq"], r["gs06"], r["elements"][0])
            for r in rows if r["segment_id"] == "SVC"] == [
        (1, 1, "11", "HC:99213"), (2, 2, "12", "HC>99214>25"), (3, 3, "13", "AD^D0120")]
    assert {r["component_sep"] for r in rows if r["interchange_seq"] == 2} == {">"}
    assert [r["elements"] for r in rows if r["segment_id"] == "IEA"] == [
        ["1", "000000001"], ["1", "000000002"], ["1", "000000003"]]
    m = metrics(batch.wh, fid)
    assert (m["claims"], m["clp04"], m["cas_amount"]) == (3, D("165.00"), D("25.00"))
    assert manifest(batch.wh, fid)[0]["interchange_count"] == 3
    assert findings(batch.wh, fid) == []


# --------------------------------------------------------------------------- layout

LAYOUT_CLAIMS = ["CLP*L1*1*100*80**MB*P1", "SVC*HC:99213*100*80**1", "CAS*CO*45*20"]
LAYOUT_SEGMENTS = interchange([group([transaction(payment(LAYOUT_CLAIMS, bpr02="80"))])])
LAYOUT = x12(LAYOUT_SEGMENTS)
SECOND = x12(interchange([group([transaction(payment(LAYOUT_CLAIMS, bpr02="80",
                                                       trace="T2"))], "2")], 2))


def _wrap(text: str, width: int, brk: str) -> str:
    return brk.join(text[i:i + width] for i in range(0, len(text), width))


LAYOUTS = {
    "newline_terminator": restyle(LAYOUT, terminator="\n"),
    "cr_terminator": restyle(LAYOUT, terminator="\r"),
    "cr_terminator_then_lf": restyle(LAYOUT, terminator="\r", line_break="\n"),
    "lf_after_terminator": restyle(LAYOUT, line_break="\n"),
    "crlf_after_terminator": restyle(LAYOUT, line_break="\r\n"),
    "blank_lines_between_segments": LAYOUT.replace("~", "~\n\n"),
    "blank_lines_newline_terminator": restyle(LAYOUT, terminator="\n").replace("\n", "\n\n"),
    "utf8_bom": "\ufeff" + LAYOUT,
    "utf8_bom_crlf": "\ufeff" + restyle(LAYOUT, line_break="\r\n"),
    "wrapped_at_80_columns": _wrap(LAYOUT, 80, "\n"),
    "wrapped_at_80_columns_crlf": _wrap(LAYOUT, 80, "\r\n") + "\r\n",
    "blanks_before_segment_ids": LAYOUT.replace("~", "~  "),
    "no_terminator_after_iea": LAYOUT[:-1],
    "no_newline_after_iea": restyle(LAYOUT, terminator="\n")[:-1],
    "dos_end_of_file_mark": LAYOUT + "\r\n\x1a",
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_terminators_line_breaks_blank_lines_and_bom(tmp_path, layout):
    batch = ingest(tmp_path, {"layout.835": LAYOUTS[layout]})
    fid = batch.file_id("layout.835")
    assert id_elements(batch.wh, fid) == as_pairs(LAYOUT_SEGMENTS)
    assert [r["segment_pos"] for r in segments(batch.wh, fid)] == list(range(1, 20))
    assert findings(batch.wh, fid) == []


def test_blank_lines_and_bom_between_interchanges(tmp_path):
    text = LAYOUT + "\n\n\r\n" + "\ufeff" + restyle(SECOND, line_break="\n") + "\n\n"
    batch = ingest(tmp_path, {"two.835": text})
    fid = batch.file_id("two.835")
    rows = segments(batch.wh, fid)
    assert len(rows) == 38
    assert [(r["segment_pos"], r["interchange_seq"]) for r in rows
            if r["segment_id"] == "ISA"] == [(1, 1), (20, 2)]
    assert [(s, e) for s, e in id_elements(batch.wh, fid)][19:] == as_pairs(
        interchange([group([transaction(payment(LAYOUT_CLAIMS, bpr02="80", trace="T2"))],
                           "2")], 2))


def test_blanks_at_the_end_of_a_segment_are_data(tmp_path):
    text = LAYOUT.replace("N1*PR*TEST PAYER~", "N1*PR*TEST PAYER  ~")
    batch = ingest(tmp_path, {"blanks.835": text})
    fid = batch.file_id("blanks.835")
    n1 = [r["elements"] for r in segments(batch.wh, fid) if r["segment_id"] == "N1"]
    assert n1[0] == ["PR", "TEST PAYER  "]


# --------------------------------------------------------------------------- separators

SVC_QUALIFIERS = [
    "CLP*S1*1*400*400**MC*P1",
    "SVC*AD:D0120*100*100**1",
    "SVC*NU:0450*100*100**1",
    "SVC*ZZ:LOCAL1*100*100**1",
    "SVC*N4:12345678901*100*100**1",
]


@pytest.mark.parametrize("element,component,repetition", [
    ("*", ":", "^"), ("|", ">", "^"), ("*", "^", "{"), ("!", "\\", "`")])
def test_other_separators_and_svc01_qualifiers(tmp_path, element, component, repetition):
    text = restyle(simple_835(SVC_QUALIFIERS, "400"), element=element, component=component,
                   repetition=repetition)
    batch = ingest(tmp_path, {"sep.835": text})
    fid = batch.file_id("sep.835")
    rows = segments(batch.wh, fid)
    svc = [r for r in rows if r["segment_id"] == "SVC"]
    assert [r["elements"][0].split(r["component_sep"]) for r in svc] == [
        ["AD", "D0120"], ["NU", "0450"], ["ZZ", "LOCAL1"], ["N4", "12345678901"]]
    assert {r["component_sep"] for r in rows} == {component}
    assert rows[0]["elements"][10] == repetition  # ISA11
    assert metrics(batch.wh, fid)["svc02"] == D("400.00")


def test_bare_transaction_finds_a_non_colon_component_separator(tmp_path):
    """A file with no ISA cannot declare ISA16; an SVC01 composite shows it, whatever
    its qualifier."""
    body = transaction(payment(["CLP*S1*1*100*100**MC*P1", "SVC*NU>0450>X*100*100**1"],
                               bpr02="100"))
    batch = ingest(tmp_path, {"bare.835": restyle(x12(body), line_break="\n")})
    fid = batch.file_id("bare.835")
    rows = segments(batch.wh, fid)
    assert {r["component_sep"] for r in rows} == {">"}
    assert {r["interchange_seq"] for r in rows} == {0}
    assert findings(batch.wh, fid) == [(1, "ST", "NO_INTERCHANGE_ENVELOPE",
                                        "bare ST...SE with no ISA/GS envelope")]


# --------------------------------------------------------------------------- versions


def test_4010_file_loads_and_reports_its_version(tmp_path):
    claims = ["CLP*V1*1*100*80*20*MB*P1", "CAS*PR*2*20"]
    text = x12(interchange([group([transaction(payment(claims, bpr02="80"))],
                                  version="004010X091A1")], version="00401"))
    batch = ingest(tmp_path, {"v4010.835": text})
    fid = batch.file_id("v4010.835")
    rows = segments(batch.wh, fid)
    assert rows[0]["elements"][10:12] == ["U", "00401"]
    m = manifest(batch.wh, fid)[0]
    assert m["x12_version"] == "004010X091A1"
    assert (m["claim_count"], m["transaction_count"]) == (1, 1)


def test_version_is_that_of_the_first_835_group(tmp_path):
    """GS08 of the group holding the first 835, not the smallest GS08 of the file."""
    ack = group([transaction(["BHT*0010*08*1*20240105*1200"], "0001", st01="277")], "1",
                version="005010X212", functional="HN")
    era = group([transaction(payment(["CLP*V1*1*100*100**MB*P1"], bpr02="100"), "0002")],
                "2")
    batch = ingest(tmp_path, {"mixed.835": x12(interchange([ack, era]))})
    fid = batch.file_id("mixed.835")
    assert manifest(batch.wh, fid)[0]["x12_version"] == "005010X221A1"
    assert findings(batch.wh, fid) == [
        (3, "ST", "NON_835_TRANSACTION",
         "transaction 1 is not an 835; kept, not used by the marts")]


# --------------------------------------------------------------------------- PLB

PLB = [
    # 100 - 2.5 - 50 + 10 + 5 - 1.25 = 61.25, then -30: 31.25 in all
    "PLB*1999999999*20241231*WO:CLAIM1*100*L6*-2.5*FB:X1*-50*72*10*J1*5*CS:ADJ*-1.25",
    "PLB*1999999999*20241231*WO:CLAIM2*-30",
]


def test_plb_with_six_pairs_several_segments_and_negative_amounts(tmp_path):
    text = simple_835(["CLP*P1*1*100*100**MB*P1"], "68.75", plb=PLB)  # 100 - 31.25
    batch = ingest(tmp_path, {"plb.835": text})
    fid = batch.file_id("plb.835")
    rows = [r for r in segments(batch.wh, fid) if r["segment_id"] == "PLB"]
    assert [(r["loop_id"], r["claim_seq"], len(r["elements"])) for r in rows] == [
        ("PLB", None, 14), ("PLB", None, 4)]
    amounts = [D(r["elements"][i]) for r in rows for i in range(3, len(r["elements"]), 2)]
    assert amounts == [D("100"), D("-2.5"), D("-50"), D("10"), D("5"), D("-1.25"), D("-30")]
    bpr02 = [r for r in segments(batch.wh, fid) if r["segment_id"] == "BPR"][0]["elements"][1]
    assert metrics(batch.wh, fid)["clp04"] - sum(amounts) == D(bpr02)


# --------------------------------------------------------------------------- claims


def test_mia_moa_empty_clp05_and_every_clp02(tmp_path):
    claims = [
        "CLP*K19*19*100*80**MB*P19", "MOA***MA01",
        "CLP*K20*20*100*80*20*MB*P20", "CAS*PR*1*20",
        "CLP*K21*21*100*80*20*MB*P21", "CAS*PR*2*20",
        "CLP*K22*22*-100*-80*-20*MB*P22", "CAS*PR*1*-20",
        "CLP*K23*23*100*0**MB*P23", "CAS*OA*23*100",
        "CLP*K25*25*100*0**MB*P25", "CAS*CO*45*100",
        "CLP*KA*1*5000*4000*1000*MA*PA*11*1", "MIA*0***1000", "CAS*PR*1*1000",
    ]
    batch = ingest(tmp_path, {"status.835": simple_835(claims, "4160")})
    fid = batch.file_id("status.835")
    rows = segments(batch.wh, fid)
    clp = [(r["elements"][1], r["elements"][4], r["claim_seq"]) for r in rows
           if r["segment_id"] == "CLP"]
    assert clp == [("19", "", 1), ("20", "20", 2), ("21", "20", 3), ("22", "-20", 4),
                   ("23", "", 5), ("25", "", 6), ("1", "1000", 7)]
    assert [(r["segment_id"], r["loop_id"], r["claim_seq"]) for r in rows
            if r["segment_id"] in ("MIA", "MOA")] == [("MOA", "2100", 1), ("MIA", "2100", 7)]
    m = metrics(batch.wh, fid)
    assert m["clp05"] == D("1020.00")  # 20 + 20 - 20 + 1000; the empty ones count 0
    assert m["clp04"] == D("4160.00")  # 80 * 3 - 80 + 4000
    assert manifest(batch.wh, fid)[0]["claim_count"] == 7


def test_reason_codes_newer_than_the_seed_are_kept(tmp_path):
    claims = ["CLP*N1*1*100*70**MB*P1", "SVC*HC:99213*100*70**1",
              "CAS*CO*Z99*10*1*999*15*1*W1*5"]
    batch = ingest(tmp_path, {"new_carc.835": simple_835(claims, "70")})
    fid = batch.file_id("new_carc.835")
    cas = [r["elements"] for r in segments(batch.wh, fid) if r["segment_id"] == "CAS"]
    assert cas == [["CO", "Z99", "10", "1", "999", "15", "1", "W1", "5"]]
    assert metrics(batch.wh, fid)["cas_amount"] == D("30.00")


# --------------------------------------------------------------------------- zip


def test_zip_members_load_as_files_of_their_own(tmp_path):
    a = simple_835(["CLP*Z1*1*100*100**MB*P1"], "100", trace="ZA")
    b = restyle(simple_835(["CLP*Z2*1*50*50**MB*P2"], "50", trace="ZB"), line_break="\r\n")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.835", a)
        z.writestr("sub/", "")
        z.writestr("sub/b.txt", b)
        z.writestr("readme.txt", "Remittances for January.\n")
    batch = ingest(tmp_path, {"era.zip": buf.getvalue()})
    assert [(r.name, r.status) for r in batch.report.results] == [
        ("era.zip!a.835", "loaded"), ("era.zip!sub/b.txt", "loaded")]
    rows = manifest(batch.wh)
    assert [(r["file_name"], r["claim_count"], r["size_bytes"]) for r in rows] == [
        ("era.zip!a.835", 1, len(a)), ("era.zip!sub/b.txt", 1, len(b))]
    assert rows[0]["source_uri"].endswith("era.zip!a.835")
    assert rows[0]["file_id"] == hashlib.sha256(a.encode()).hexdigest()
    assert metrics(batch.wh, rows[1]["file_id"])["clp04"] == D("50.00")


# --------------------------------------------------------------------------- odd samples


def test_stray_leading_tilde_with_newline_terminator(tmp_path):
    """tiger__835-example.txt: ISA16 is '^', the terminator is the newline and each
    line starts with '~'. The '~' is layout, not part of the segment id."""
    batch = ingest(tmp_path, {"t.txt": sample_bytes("tiger__835-example.txt")})
    fid = batch.file_id("t.txt")
    rows = segments(batch.wh, fid)
    assert len(rows) == 51  # 51 lines, one segment each
    assert [r["segment_id"] for r in rows[:4]] == ["ISA", "GS", "ST", "BPR"]
    assert rows[-1]["segment_id"] == "IEA"
    assert {r["component_sep"] for r in rows} == {"^"}
    plb = [r["elements"] for r in rows if r["segment_id"] == "PLB"]
    assert plb == [["743238060", "20121231", "WO^12104411559120820 001GAL295513", "-361.19"]]
    # lines 3 (ST) to 49 (SE) are 47 segments; SE01 says 43
    assert findings(batch.wh, fid) == [
        (49, "SE", "SE01_COUNT_MISMATCH", "SE01 says 43, the transaction has 47 segments")]


def test_every_sample_file_is_in_the_expectations_below():
    names = {p.name for p in samples_dir().iterdir() if p.name != "SOURCES.tsv"}
    assert names == set(SAMPLES)


# name: (status, interchanges, transactions (835), claims, segments, x12_version,
#        finding codes). Segment counts are the '~' (or line) counts of each file;
#        claims are its CLP segments.
SAMPLES = {
    "affect__exhaustive_sample.txt": ("loaded", 0, 1, 1, 52, None,
                                      ["NO_INTERCHANGE_ENVELOPE"]),
    "affect__nevada_medicaid.txt": ("loaded", 1, 3, 3, 67, "005010X221A1",
                                    ["CONTROL_NUMBER_MISMATCH"]),
    "badx12__error_validation.edi": ("loaded", 1, 1, 2, 31, "005010X221A1",
                                     ["CONTROL_NUMBER_MISMATCH", "CONTROL_NUMBER_MISMATCH",
                                      "CONTROL_NUMBER_MISMATCH", "GE01_COUNT_MISMATCH",
                                      "IEA01_COUNT_MISMATCH", "SE01_COUNT_MISMATCH"]),
    "chs__test.835": ("loaded", 1, 1, 1, 20, "005010X221A1", ["SE01_COUNT_MISMATCH"]),
    "editools__Sample1.edi": ("loaded", 1, 2, 4, 66, "005010X221A1",
                              ["CONTROL_NUMBER_MISMATCH", "GE01_COUNT_MISMATCH"]),
    "keiron__blue_cross_nc_sample.txt": ("loaded", 0, 1, 1, 32, None,
                                         ["NO_INTERCHANGE_ENVELOPE", "SE01_COUNT_MISMATCH"]),
    "moov__sample1.txt": ("loaded", 1, 2, 2, 66, "005010X221A1", []),
    "pyx12__835_mult_loops.txt": ("loaded", 1, 1, 1, 35, "005010X221A1", []),
    "pyx12__x12testdata_mult_isa.txt": ("loaded", 2, 4, 0, 52, "004010X091A1",
                                        ["NON_835_TRANSACTION"] * 8),
    "tasty__multi-line-not-delimited.edi": ("loaded", 1, 1, 3, 69, "005010X221A1", []),
    "tiger__835-example.txt": ("loaded", 1, 1, 2, 51, "004010X091A1",
                               ["SE01_COUNT_MISMATCH"]),
    "tiger__sample_835.txt": ("rejected", None, None, None, None, None, []),
}


def test_samples_load_with_the_expected_counts(tmp_path, warehouse):
    files = {name: sample_bytes(name) for name in sorted(SAMPLES)}
    batch = ingest(tmp_path, files, warehouse)
    for name, (status, n_ich, n_txn, n_clp, n_seg, version, codes) in SAMPLES.items():
        result = batch.result(name)
        assert result.status == status, (name, result.reason)
        if status != "loaded":
            continue
        row = manifest(batch.wh, result.file_id)[0]
        got = (row["interchange_count"], row["transaction_count"], row["claim_count"],
               row["segment_count"], row["x12_version"])
        assert got == (n_ich, n_txn, n_clp, n_seg, version), name
        assert len(segments(batch.wh, result.file_id)) == n_seg
        assert sorted(f[2] for f in findings(batch.wh, result.file_id)) == codes, name
    assert batch.result("tiger__sample_835.txt").reason == (
        "tiger__sample_835.txt: segment 4 (BPR): BPR02 is not a number")


def test_sample_segment_counts_match_a_plain_count_of_terminators():
    """The segment counts above, computed without the reader: each file's terminator
    is the character after ISA16 (or '~' for the bare ones); blank pieces are not
    segments."""
    for name, expected in SAMPLES.items():
        if expected[0] != "loaded":
            continue
        text = sample_bytes(name).decode()
        term = "~"
        if text.startswith("ISA"):  # ISA16 follows the 16th separator, then the terminator
            idx = -1
            for _ in range(16):
                idx = text.index(text[3], idx + 1)
            term = text[idx + 2]
        pieces = [p.strip("\r\n~ ") for p in text.split(term)]
        assert sum(1 for p in pieces if p) == expected[4], name
