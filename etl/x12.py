"""Reading the envelope of an X12 file: where each interchange starts and ends and
which delimiters it declares.

The 835 reader is split in two. This module does the part that needs
character-level care and is cheap: it finds each ISA...IEA interchange, reads its
delimiters from the ISA segment (never assuming ``*``, ``~`` or ``:``), and
describes how its segments are to be cut. ``index_segments`` then finds where each
segment starts, which of the segments that open loops or close envelopes it is, and
from those gives every segment its loop context (``SegmentIndex``), with numpy
running counts over whole arrays. Cutting the text into segment and element strings
is left to DuckDB (``etl.loader``). Nothing here loops over segments in Python on
the way of a good file: only string methods, regular expressions and numpy, which
run in C.

What counts as layout rather than data, and is therefore dropped:

- line breaks (CR, LF) after a terminator, and blank lines between segments or
  between interchanges;
- when the terminator is not itself a line break, every CR and LF in the
  interchange: X12 data never holds them, and some senders wrap the whole file
  at 80 columns, which puts line breaks inside segments (and inside the ISA);
- spaces and tabs before a segment id; a UTF-8 byte order mark and a DOS end of
  file mark (Ctrl-Z) around interchanges.

Errors never quote file content: ERA files carry protected health information.
They name the file and a segment position (1-based, counted as the loader counts
``raw.segments.segment_pos``).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where it is used: importing etl stays cheap
    import numpy as np

# An ISA segment is 106 characters when its elements are padded as the standard
# asks; some senders do not pad, so the ISA is read by counting separators.
_ISA_ELEMENTS = 16
_LINE_BREAKS = "\r\n"
_BOM = "\ufeff"
# What may sit between interchanges and around the file: blanks, line breaks, a
# byte order mark (files concatenated with ``cat``), a DOS end-of-file mark.
_BETWEEN = " \t\r\n\x0c\ufeff\x1a"
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}")
# SVC01 qualifiers (product/service id qualifier) used to find the component
# separator of a file with no ISA to declare it.
_SVC01_QUALIFIERS = "AD|ER|HC|HP|IV|N4|NU|WK|ZZ|N1|N2|N3|N6|UI|AR|AS|CJ|RB|IR"


class X12FormatError(ValueError):
    """The file cannot be read as X12. ``segment_pos`` is 1-based, when known;
    ``segment_id`` is the id of that segment, when it is a well-formed one."""

    def __init__(self, reason: str, segment_pos: int | None = None,
                 segment_id: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.segment_pos = segment_pos
        self.segment_id = segment_id


@dataclass(frozen=True)
class Interchange:
    """One ISA...IEA interchange (or a bare ST...SE run with no envelope)."""

    seq: int  # 1-based; 0 for a file with no ISA envelope
    element_sep: str
    component_sep: str
    repetition_sep: str | None
    segment_term: str
    strip_chars: str  # characters removed from both ends of every cut segment
    body: str  # the interchange text, cut on ``segment_term`` gives its segments
    first_segment_pos: int  # position of its ISA (or first ST) in the file
    tidy: bool = False  # body holds no layout any more (``clean_body`` returns it as is)


def decode(data: bytes) -> str:
    """Bytes to text. X12 uses a basic or extended character set; UTF-8 covers both.

    Bytes that are not UTF-8 are read as Latin-1 so that no segment is lost; a
    file with NUL bytes (anywhere: PostgreSQL text cannot hold them) or many
    control characters is not text at all.
    """
    if b"\x00" in data:
        raise X12FormatError("not X12: binary content (NUL bytes)", 1)
    head = data[:4096]
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    if controls > len(head) // 20:
        raise X12FormatError("not X12: binary content", 1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text.removeprefix(_BOM)


def _skip_between(text: str, pos: int) -> int:
    n = len(text)
    while pos < n and text[pos] in _BETWEEN:
        pos += 1
    return pos


def _drop_line_breaks(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r", "")
    return text.replace("\n", "") if "\n" in text else text


def _blank_chars(term: str, strip: str) -> str:
    """Characters that make a cut piece blank (dropped) when it holds nothing else."""
    return "".join(c for c in dict.fromkeys(strip + " \t") if c != term)


def count_segments(body: str, term: str, strip: str | None = None) -> int:
    """Segments the loader will cut from ``body``. For a tidy body (every body
    ``split_interchanges`` returns, and ``clean_body``'s result) that is one more than
    its terminators; with ``strip``, a raw body is tidied first."""
    if strip is not None:
        body = _tidy(body, term, strip)
    return body.count(term) + 1 if body else 0


def _layout_chars(term: str, strip: str) -> tuple[str, str]:
    """What may stand before a terminator (line breaks, stray leaders) and after it
    (those and blanks before the next segment id) without being data."""
    before = "".join(c for c in dict.fromkeys(strip) if c != term)
    after = _blank_chars(term, strip)
    if term not in _LINE_BREAKS:  # the body has no line breaks left (see module doc)
        before = before.replace("\r", "").replace("\n", "")
        after = after.replace("\r", "").replace("\n", "")
    return before, after


def _tidy(body: str, term: str, strip: str) -> str:
    """``body`` with the layout around its terminators removed and blank pieces dropped,
    so that cutting it on ``term`` gives exactly its segments. Blanks at the end of a
    segment are kept: they are data. Only ``str.replace`` and ``in``, which run in C;
    a body with nothing to remove costs a few scans."""
    before, after = _layout_chars(term, strip)
    # a character that is nowhere in the body cannot be layout: one fast scan for it
    # spares the slower scan for a pair that starts with the (frequent) terminator
    pairs = [c + term for c in before if c in body]
    pairs += [term + c for c in after if c in body] + [term + term]
    changed = True
    while changed:
        changed = False
        for pair in pairs:
            while pair in body:
                body = body.replace(pair, term)
                changed = True
    if body[:1] in after + term and body:
        body = body.lstrip(after + term)
    if body[-1:] in before + term and body:
        body = body.rstrip(before + term)
    return body


def clean_body(ich: Interchange) -> str:
    """The interchange's body, tidy: cut on the terminator it gives exactly its
    segments, none of them blank. Bodies from ``split_interchanges`` are tidy already;
    any other is tidied here (a few scans in C)."""
    if ich.tidy:
        return ich.body
    return _tidy(ich.body, ich.segment_term, ich.strip_chars)


def _segment_start(text: str, tag: str, start: int, stop: int, term: str, blank: str) -> int:
    """Offset of the terminator before the first segment in ``text[start:stop]`` that
    begins with ``tag`` (the terminator, then only blanks, then the tag); -1 if none.
    ``str.find`` does the scanning: the tag is rare, the terminator is not."""
    i = text.find(tag, start, stop)
    while i >= 0:
        j = i - 1
        while j >= start and text[j] in blank:
            j -= 1
        if j >= start and text[j] == term:
            return j
        i = text.find(tag, i + 1, stop)
    return -1


def _next_isa(text: str, start: int, term: str, blank: str) -> int:
    """Offset of the terminator before the next ISA segment (any delimiters), or -1."""
    i = start
    while True:
        j = _segment_start(text, "ISA", i, len(text), term, blank)
        if j < 0:
            return -1
        k = text.find("ISA", j)
        after = text[k + 3:k + 4]
        if after and not after.isalnum() and not after.isspace():
            return j
        i = k + 3


def _last_segment(piece: str, elem: str, term: str, strip: str) -> str | None:
    """Id of the last non-blank segment of ``piece``, when it is a well-formed id."""
    blank = _blank_chars(term, strip)
    for seg in reversed(piece.split(term)):
        seg = seg.strip(blank)
        if seg:
            seg_id = seg.split(elem, 1)[0]
            return seg_id if _SEGMENT_ID.fullmatch(seg_id) else None
    return None


@dataclass(frozen=True)
class _Isa:
    elem: str
    component: str
    repetition: str | None
    term: str
    strip: str
    isa13: str


def _last_isa_separator(text: str, start: int, where: int) -> int:
    """Offset of the separator before ISA16."""
    if len(text) < start + 4:
        raise X12FormatError("truncated: the file ends inside this segment", where, "ISA")
    elem = text[start + 3]
    if elem.isalnum() or elem in " \t\r\n":
        raise X12FormatError("not X12: ISA has no valid element separator", where, "ISA")
    idx = start + 3
    for _ in range(_ISA_ELEMENTS - 1):
        idx = text.find(elem, idx + 1)
        if idx < 0:
            raise X12FormatError("truncated: the file ends inside this segment", where, "ISA")
    return idx


def _read_isa(text: str, start: int, idx: int, where: int) -> _Isa:
    """Delimiters of the ISA at ``start`` whose last separator is at ``idx``."""
    if len(text) < idx + 3:
        raise X12FormatError("truncated: the file ends inside this segment", where, "ISA")
    elem = text[start + 3]
    component = text[idx + 1]
    term = text[idx + 2]
    if component.isalnum() or component in " \t\r\n" or component == elem:
        raise X12FormatError("not X12: ISA16 is not a valid component separator", where, "ISA")
    if term.isalnum() or term in " \t" or term in (elem, component):
        raise X12FormatError("not X12: ISA has no valid segment terminator", where, "ISA")

    isa = text[start:idx + 2].split(elem)
    version = isa[12]
    rep = isa[11]
    repetition = (rep if version >= "00501" and len(rep) == 1 and not rep.isalnum()
                  and rep not in (elem, component, term) else None)

    # What may sit between a terminator and the next segment id: line breaks, and
    # in some old files a stray character (e.g. "\n~GS|..." where the newline is
    # the terminator). Learn it from the gap before GS.
    after = idx + 3
    gap_end = after
    while gap_end < len(text) and not text[gap_end].isalnum():
        gap_end += 1
    gap = text[after:gap_end]
    strip = _LINE_BREAKS
    extra = "".join(sorted(set(c for c in gap if c not in _LINE_BREAKS + " \t")))
    if extra and term not in extra:
        strip += extra
    return _Isa(elem, component, repetition, term, strip, isa[13])


def _bare_delimiters(text: str, start: int) -> tuple[str, str, str]:
    """Delimiters of a file that starts at ST with no ISA envelope (seen in test files
    and in exports of some practice systems): element separator after "ST", the
    terminator after the ST segment, and ':' unless an SVC01 or PLB03 composite shows
    another."""
    elem = text[start + 2]
    if elem.isalnum() or elem in " \t\r\n":
        raise X12FormatError("not X12: the file does not start with ISA or ST", 1)
    idx = start + 3
    while idx < len(text) and (text[idx].isalnum() or text[idx] in (elem, " ")):
        idx += 1
    if idx >= len(text):
        raise X12FormatError("truncated: the file ends inside this segment", 1, "ST")
    term = text[idx]
    e, t = re.escape(elem), re.escape(term)
    other = f"[^A-Za-z0-9 \\t\\r\\n{e}{t}]"
    m = re.search(f"(?:^|{t})\\s*SVC{e}(?:{_SVC01_QUALIFIERS})({other})", text)
    if m is None:  # PLB03: reason code, component separator, reference
        m = re.search(f"(?:^|{t})\\s*PLB{e}[^{e}{t}]*{e}[^{e}{t}]*{e}[A-Z0-9]{{2}}({other})",
                      text)
    component = m.group(1) if m else ":"
    return elem, component, term


def split_interchanges(text: str) -> list[Interchange]:
    """Find every interchange of the file, in order. Raises X12FormatError with a
    reason for a file that is not X12 or is truncated."""
    pos = _skip_between(text, 0)
    if pos >= len(text):
        raise X12FormatError("empty file: no segments", 1)

    if not text.startswith("ISA", pos):
        if text.startswith("ST", pos) and len(text) > pos + 3:
            elem, component, term = _bare_delimiters(text, pos)
            body = text[pos:].rstrip(_BETWEEN + term)
            if term not in _LINE_BREAKS:
                body = _drop_line_breaks(body)
            body = _tidy(body, term, _LINE_BREAKS)
            return [Interchange(0, elem, component, None, term, _LINE_BREAKS, body, 1,
                                tidy=True)]
        raise X12FormatError("not X12: the file does not start with ISA or ST", 1)

    result: list[Interchange] = []
    next_pos = 1  # segment position of the next interchange's ISA
    while pos < len(text):
        k = len(result) + 1
        if not text.startswith("ISA", pos):
            raise X12FormatError(f"unexpected content after interchange {k - 1}: "
                                 f"expected ISA", next_pos)
        idx = _last_isa_separator(text, pos, next_pos)
        if "\r" in text[pos:idx] or "\n" in text[pos:idx]:
            # Wrapped at a fixed width: the line breaks are layout, not terminators.
            text = text[:pos] + _drop_line_breaks(text[pos:])
            idx = _last_isa_separator(text, pos, next_pos)
        isa = _read_isa(text, pos, idx, next_pos)
        end = _interchange_end(text, pos, idx, isa, k, next_pos)

        body = text[pos:end - 1] if text[end - 1] == isa.term else text[pos:end]
        if isa.term not in _LINE_BREAKS:
            body = _drop_line_breaks(body)
        body = _tidy(body, isa.term, isa.strip)
        result.append(Interchange(k, isa.elem, isa.component, isa.repetition, isa.term,
                                  isa.strip, body, next_pos, tidy=True))
        next_pos += count_segments(body, isa.term)

        pos = _skip_between(text, end)
        # Characters learnt as stray leaders (e.g. '~') may precede the next ISA.
        while pos < len(text) and text[pos] in isa.strip:
            pos = _skip_between(text, pos + 1)
    return result


def _interchange_end(text: str, pos: int, idx: int, isa: _Isa, k: int, first: int) -> int:
    """Offset just past the IEA of interchange ``k`` (its ISA at ``pos``), or
    X12FormatError naming the last segment of a truncated interchange."""
    elem, term = isa.elem, isa.term
    blank = _blank_chars(term, isa.strip)
    nxt = _next_isa(text, idx, term, blank)
    iea = _segment_start(text, "IEA" + elem, idx, nxt if nxt >= 0 else len(text), term, blank)

    if iea < 0:
        stop = nxt + len(term) if nxt >= 0 else len(text)
        piece = text[pos:stop]
        if term not in _LINE_BREAKS:
            piece = _drop_line_breaks(piece)
        tail = piece.rstrip(_BETWEEN.replace(term, ""))
        last = first + count_segments(tail, term, isa.strip) - 1
        seg_id = _last_segment(tail, elem, term, isa.strip)
        if nxt >= 0:
            raise X12FormatError(f"truncated: interchange {k} has no IEA before the next "
                                 f"ISA", last, seg_id)
        if tail.endswith(term):
            raise X12FormatError(f"truncated: interchange {k} ends after this segment "
                                 f"without an IEA", last, seg_id)
        raise X12FormatError(f"truncated: the file ends inside this segment; interchange {k} "
                             f"has no IEA", last, seg_id)

    iea_elements = text.find("IEA" + elem, iea) + 4
    end = text.find(term, iea_elements)
    if end >= 0:
        return end + 1
    # The IEA is the last thing in the file and has no terminator: accept it when its
    # two elements are complete (IEA02 as long as ISA13), else it was cut short.
    rest = text[iea_elements:].rstrip(_BETWEEN)
    parts = rest.split(elem)
    if len(parts) == 2 and parts[0].isdigit() and len(parts[1]) == len(isa.isa13):
        return iea_elements + len(rest)
    piece = text[pos:iea]
    if term not in _LINE_BREAKS:
        piece = _drop_line_breaks(piece)
    last = first + count_segments(piece, term, isa.strip)
    raise X12FormatError("truncated: the file ends inside this segment", last, "IEA")


# --------------------------------------------------------------------------- segment index

# The segment ids the loader acts upon (loops, envelope, and the segments whose money
# and dates it checks), each with a code in ``SegmentIndex.kind`` (0 for any other id).
# ``segment_id`` is the text before the first element separator, so "CLP" is CLP only
# when the separator (or the end of the segment) follows it.
KINDS = ("ISA", "IEA", "GS", "GE", "ST", "SE", "N1", "LX", "CLP", "SVC", "CAS", "PLB", "TRN",
         "BPR", "DTM", "AMT", "QTY")
KIND = {name: code for code, name in enumerate(KINDS, start=1)}
# raw.segments.loop_id inside a transaction, by ``SegmentIndex.loop`` (1-based); 0 means
# the segment's own id (envelope segments, ST, SE and anything outside a transaction).
LOOP_NAMES = ("1000A", "1000B", "2000", "2100", "2110", "PLB", "header")
# The segments that open a loop, in the order of the codes the context is computed with.
# N1 opens 1000A with N101 = PR (payer) and 1000B with N101 = PE (payee).
_OPENER_TO_LOOP = {"ST": 7, "N1PR": 1, "N1PE": 2, "LX": 3, "CLP": 4, "SVC": 5, "PLB": 6,
                   "SE": 7}
_HEAD = 6  # characters read at the start of each segment: "N1*PR*" is the longest test


@dataclass
class SegmentIndex:
    """Every segment of one file, in file order, as numpy arrays of one value per segment:
    which id it has, and the loop context ``raw.segments`` records for it.

    Segment ``i`` (0-based) is ``raw.segments.segment_pos`` ``i + 1``. Context arrays hold
    0 for null (``group_seq``, ``transaction_seq``, ``header_seq``, whose values start at
    1) or -1 (``claim_seq``, ``line_seq``, where 0 can be a value: an SVC before the first
    CLP of its transaction has claim 0). Cutting a body on its terminator gives exactly
    the segments counted here (bodies are tidy), so DuckDB's ``string_split`` and this
    index agree row for row; the loader checks that they do.
    """

    interchanges: list[Interchange]
    first: "np.ndarray"  # index of the first segment of each interchange, then the count
    starts: "np.ndarray"  # offset of each segment in its interchange's ``codes``
    stops: "np.ndarray"  # offset of its terminator (or the end of the body)
    kind: "np.ndarray"  # uint8 code from KIND, 0 for other ids
    valid_id: "np.ndarray"  # bool: the id is [A-Z][A-Z0-9]{1,2}
    st_count: "np.ndarray"  # ST segments so far, this one included
    se_count: "np.ndarray"  # SE segments so far, this one included
    group_seq: "np.ndarray"
    transaction_seq: "np.ndarray"
    header_seq: "np.ndarray"
    claim_seq: "np.ndarray"
    line_seq: "np.ndarray"
    loop: "np.ndarray"  # 1-based index into LOOP_NAMES, 0 for the segment's own id
    codes: list = field(repr=False)  # each interchange's body as character codes
    wide: list = field(repr=False)  # whether those codes are UTF-32 (else UTF-8 bytes)

    @property
    def count(self) -> int:
        return int(self.first[-1])

    def where(self, name: str) -> "np.ndarray":
        """Indexes of the segments with this id (one of KINDS)."""
        import numpy as np

        return np.flatnonzero(self.kind == KIND[name])

    def interchange_of(self, i: int) -> int:
        """Index into ``interchanges`` of the interchange that holds segment ``i``."""
        if len(self.interchanges) == 1:
            return 0
        return bisect.bisect_right(self.first.tolist(), i) - 1

    def text(self, i: int) -> str:
        """The text of segment ``i``: for the few segments the loader reads in Python."""
        k = self.interchange_of(i)
        piece = self.codes[k][int(self.starts[i]):int(self.stops[i])]
        return piece.tobytes().decode("utf-32-le" if self.wide[k] else "utf-8")

    def elements(self, i: int) -> list[str]:
        """The elements after the id, as ``raw.segments.elements`` holds them."""
        return self.text(i).split(self.interchanges[self.interchange_of(i)].element_sep)[1:]

    def element(self, i: int, n: int) -> str | None:
        """Element ``n`` (1-based, as ``elements[n]`` in SQL), None when it is not sent."""
        elements = self.elements(i)
        return elements[n - 1] if 0 < n <= len(elements) else None

    def element_counts(self, rows: "np.ndarray") -> "np.ndarray":
        """How many elements follow the id in each of the segments ``rows`` (indexes):
        separators before the segment's end less those before its start, found by binary
        search in the positions of the separators."""
        import numpy as np

        counts = np.zeros(len(rows), dtype=np.int64)
        for k, ich in enumerate(self.interchanges):
            mine = (rows >= self.first[k]) & (rows < self.first[k + 1])
            if mine.any():
                seps = np.flatnonzero(self.codes[k] == ord(ich.element_sep))
                r = rows[mine]
                counts[mine] = (np.searchsorted(seps, self.stops[r])
                                - np.searchsorted(seps, self.starts[r]))
        return counts

    def segment_id(self, i: int) -> str:
        return self.text(i).split(self.interchanges[self.interchange_of(i)].element_sep, 1)[0]


def _codes(body: str, delimiters: str) -> tuple["np.ndarray", bool]:
    """The body as an array of character codes, and whether they are UTF-32.

    UTF-8 bytes when the delimiters are ASCII: UTF-8 never puts an ASCII byte inside
    another character, so a terminator byte is a terminator. Otherwise one code point per
    character (a delimiter outside ASCII is legal in a Latin-1 file)."""
    import numpy as np

    if max(map(ord, delimiters)) < 128:
        return np.frombuffer(body.encode("utf-8"), dtype=np.uint8), False
    return np.frombuffer(body.encode("utf-32-le"), dtype=np.uint32), True


def _cut(ich: Interchange) -> dict:
    """Where each segment of one interchange starts and stops, and what it is."""
    import numpy as np

    body = clean_body(ich)
    codes, wide = _codes(body, ich.element_sep + ich.segment_term)
    elem, term = ord(ich.element_sep), ord(ich.segment_term)
    ends = np.flatnonzero(codes == term)
    n = len(ends) + 1
    starts = np.empty(n, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends + 1
    stops = np.empty(n, dtype=np.int64)
    stops[:-1] = ends
    stops[-1] = len(codes)

    # The first characters of each segment; past its end comes its terminator (the last
    # segment's comes from the padding), so a short segment never matches a longer id.
    padded = np.concatenate([codes, np.full(_HEAD, term, dtype=codes.dtype)])
    head = [padded[starts + k] for k in range(_HEAD)]

    def ends_id(k: int) -> np.ndarray:
        return (head[k] == elem) | (head[k] == term)

    def is_id(name: str) -> np.ndarray:
        match = ends_id(len(name))
        for k, ch in enumerate(name):
            match &= head[k] == ord(ch)
        return match

    kind = np.zeros(n, dtype=np.uint8)
    for name, code in KIND.items():
        kind[is_id(name)] = code
    # N101 = PR or PE: "N1", the separator, the qualifier, then a separator or the end
    qualifier = (kind == KIND["N1"]) & (head[2] == elem) & (head[3] == ord("P")) & ends_id(5)
    n1 = np.where(qualifier & (head[4] == ord("R")), 1,
                  np.where(qualifier & (head[4] == ord("E")), 2, 0)).astype(np.uint8)

    def upper(x):
        return (x >= ord("A")) & (x <= ord("Z"))

    def alnum(x):
        return upper(x) | ((x >= ord("0")) & (x <= ord("9")))

    valid = upper(head[0]) & alnum(head[1]) & (ends_id(2) | (alnum(head[2]) & ends_id(3)))
    return {"codes": codes, "wide": wide, "starts": starts, "stops": stops, "kind": kind,
            "n1": n1, "valid_id": valid}


def index_segments(interchanges: list[Interchange]) -> SegmentIndex:
    """Cut every interchange of a file into segments and give each its loop context.

    The context follows running counts in file order, as the 835 nests its loops:
    a transaction runs from its ST to its SE, a group from GS to GE; a segment belongs to
    the loop opened by the last ST, N1 (PR or PE), LX, CLP, SVC, PLB or SE before it or at
    it; header_seq counts LX within the transaction, claim_seq CLP within the transaction
    (in 2100 and 2110), line_seq SVC since the last CLP (in 2110). Each count is a cumsum
    and each "last X before here" a running maximum of positions, so the whole file takes
    a few passes over arrays instead of a loop over segments.
    """
    import numpy as np

    cuts = [_cut(ich) for ich in interchanges]
    sizes = [len(c["starts"]) for c in cuts]
    first = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    def joined(key: str) -> np.ndarray:
        return np.concatenate([c[key] for c in cuts]) if len(cuts) > 1 else cuts[0][key]

    kind, n1 = joined("kind"), joined("n1")
    n = int(first[-1])
    pos = np.arange(n, dtype=np.int32)

    def running(name: str) -> np.ndarray:
        return np.cumsum(kind == KIND[name], dtype=np.int32)

    def last(mask: np.ndarray) -> np.ndarray:
        """Index of the last segment at or before each one where ``mask`` holds, or -1."""
        return np.maximum.accumulate(np.where(mask, pos, np.int32(-1)))

    is_st, is_se = kind == KIND["ST"], kind == KIND["SE"]
    gs, ge, st, se = running("GS"), running("GE"), running("ST"), running("SE")
    lx, clp, svc = running("LX"), running("CLP"), running("SVC")

    # 0 for null: a transaction (group) is open from its ST (GS) up to and with its SE (GE)
    zero = np.int32(0)
    transaction_seq = np.where((st > 0) & (st > se - is_se), st, zero)
    group_seq = np.where((gs > 0) & (gs > ge - (kind == KIND["GE"])), gs, zero)
    in_txn = transaction_seq > 0

    # The loop in force: that of the last loop-opening segment at or before each one
    # ("header" before the first); a transaction's ST and SE, and whatever lies outside a
    # transaction, carry their own id instead.
    opener = np.zeros(n, dtype=np.int8)
    for name, loop in _OPENER_TO_LOOP.items():
        if name.startswith("N1"):
            opener[n1 == (1 if name == "N1PR" else 2)] = loop
        else:
            opener[kind == KIND[name]] = loop
    in_force = last(opener > 0)
    loop = np.where(in_force >= 0, opener[np.maximum(in_force, 0)], _OPENER_TO_LOOP["ST"])
    loop = np.where(in_txn & ~is_st & ~is_se, loop, 0).astype(np.int8)
    in_claim = in_txn & ((loop == LOOP_NAMES.index("2100") + 1)
                         | (loop == LOOP_NAMES.index("2110") + 1))
    in_line = in_txn & (loop == LOOP_NAMES.index("2110") + 1)

    # Counts since the transaction's ST (the last ST: inside a transaction it is its own)
    # and since the last CLP: a running count less its value at that segment.
    last_st, last_clp = last(is_st), last(kind == KIND["CLP"])
    at_st, at_clp = np.maximum(last_st, 0), np.maximum(last_clp, 0)
    none = np.int32(-1)
    header_seq = np.where(in_txn & (lx > lx[at_st]), lx - lx[at_st], zero)
    claim_seq = np.where(in_claim, clp - clp[at_st], none)
    line_seq = np.where(in_line & (last_clp >= 0), svc - svc[at_clp], none)

    return SegmentIndex(
        interchanges=list(interchanges), first=first, starts=joined("starts"),
        stops=joined("stops"), kind=kind, valid_id=joined("valid_id"), st_count=st,
        se_count=se,
        group_seq=group_seq, transaction_seq=transaction_seq, header_seq=header_seq,
        claim_seq=claim_seq, line_seq=line_seq, loop=loop,
        codes=[c["codes"] for c in cuts], wide=[c["wide"] for c in cuts])
