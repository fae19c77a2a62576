"""The loader's quick money and date check against its full rules.

While a file is cut, each money or date segment of an 835 is matched against one
regular expression per segment id (``etl.loader._good_patterns``); only a file with a
segment that fails it is checked element by element (``_number_problems_sql``,
``_dates_sql``). So the patterns must never pass a segment the rules would reject; they
may refuse a good one (that only costs time), but not the everyday good ones, or every
file would take the slow path.
"""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl import loader

pytestmark = pytest.mark.unit

# Element values that sit on the edges of the rules: numbers good and bad, money with
# too many cents, sixteen digits, dates real and not, blanks, letters, other scripts.
VALUES = [
    "", "0", "00", "-0", "1", "20", "-20", "100.5", "100.50", "100.505", "100.500",
    "100.", ".5", ".05", ".055", "-.5", "1.2.3", "1,000", "1e5", " 1", "1 ", "+1", "-",
    ".", "999999999999999", "9999999999999999", "000000000000001234", "0.001", "12a",
    "٣", "１", "20240105", "20240230", "20240229", "20230229", "00000101", "99991231",
    "2024010", "202401055", "20241301", "20240431", "20240131", "19000229", "20000229",
    "00000229", "00040229", "21000229", "24000229", "20240631", "CO", "45", "PR", "HC:99213",
    "MB", "WO:X",
]
IDS = sorted(loader._good_patterns())


def _rows(segments: list[tuple[str, list[str]]], sep: str = "*"):
    con = duckdb.connect()
    con.execute("create table _seg (segment_pos integer, segment_id varchar, "
                "elements varchar[], transaction_set varchar, text varchar)")
    rows = [(i + 1, seg, elements, sep.join([seg, *elements]))
            for i, (seg, elements) in enumerate(segments)]
    con.execute("insert into _seg values " + ", ".join(["(?, ?, ?, '835', ?)"] * len(rows)),
                [v for row in rows for v in row])
    return con


def _quick(con, sep: str = "*") -> dict[int, bool]:
    """segment_pos -> passes the quick pattern, as the loader writes it for ``sep``."""
    cases = " ".join(
        f"when '{seg}' then regexp_full_match(text, "
        f"'{loader._sql_text(loader._segment_pattern(p, sep))}')"
        for seg, p in loader._good_patterns().items())
    return dict(con.execute(f"select segment_pos, case segment_id {cases} end "
                            f"from _seg").fetchall())


def _full(con) -> set[int]:
    """segment_pos of the segments the full rules find a problem in (the number and date
    rules, and the CAS and PLB element counts)."""
    bad = {row[0] for row in con.execute(loader._number_problems_sql()).fetchall()}
    bad |= {row[0] for row in con.execute(
        f"select segment_pos from _seg where (segment_id = 'CAS' and len(elements) > "
        f"{loader._CAS_MAX_ELEMENTS}) or (segment_id = 'PLB' and len(elements) > "
        f"{loader._PLB_MAX_ELEMENTS})").fetchall()}
    for seg, idx in loader._DATES:
        for pos, value in con.execute(
                f"select segment_pos, elements[{idx}] from _seg "
                f"where segment_id = '{seg}'").fetchall():
            if value and not loader._is_date(value):
                bad.add(pos)
    return bad


# Most elements come from a few values, so that the combinations the rules care about
# (a reason with or without its amount, an amount with three decimals) come up often.
COMMON = ["", "", "", "20", "-1.5", "0", "45", "100.505", "X", "20240105", "20240230",
          "20240229", "20230229"]
element = st.one_of(st.sampled_from(COMMON), st.sampled_from(VALUES))
segment = st.tuples(st.sampled_from(IDS), st.lists(element, min_size=0, max_size=22))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(segment, min_size=1, max_size=40))
def test_the_quick_pattern_never_passes_a_segment_the_rules_reject(segments):
    con = _rows(segments)
    quick, bad = _quick(con), _full(con)
    passed_but_bad = [segments[pos - 1] for pos in bad if quick[pos]]
    assert passed_but_bad == []


EVERYDAY = [
    ("BPR", ["I", "34166.71", "C", "ACH", "CCP", "01", "999999992", "DA", "900000001",
             "1999000005", "", "01", "999999991", "DA", "8990000001", "20150301"]),
    ("BPR", ["H", "0", "C", "NON", "", "", "", "", "", "", "", "", "", "", "", "20240105"]),
    ("CLP", ["TPCN0005000257", "1", "574.55", "362.96", "5", "MC", "P1"]),
    ("CLP", ["A1", "22", "-100", "-80", "", "MB", "P1", "11", "1"]),
    ("SVC", ["HC:99213", "100", "78.4", "", "1"]),
    ("SVC", ["HC:99213:25", "100.00", "0", "", "2", "", "1"]),
    ("CAS", ["CO", "45", "20", "1", "253", "1.6"]),
    ("CAS", ["CO", "45", "30", "", "253", "1.6", "", "94", "5", ""]),
    ("CAS", ["PR", "1", "10"]),
    ("DTM", ["405", "20240104"]),
    ("DTM", ["472", "20240229"][:1] + ["20240228"]),
    ("AMT", ["AU", "100.5"]),
    ("QTY", ["CA", "2"]),
    ("PLB", ["1999999999", "20241231", "WO:ABC", "-10.5", "L6", "2.25"]),
]


@pytest.mark.parametrize("sep", ["*", "|", "^", "\\", "'", "]", "§"])
def test_everyday_good_segments_pass_the_quick_pattern(sep):
    con = _rows(EVERYDAY, sep)
    quick = _quick(con, sep)
    assert _full(con) == set()
    assert [EVERYDAY[pos - 1] for pos, ok in quick.items() if not ok] == []
