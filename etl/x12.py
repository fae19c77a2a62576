"""Reading the envelope of an X12 file: where each interchange starts and ends and
which delimiters it declares.

The 835 reader is split in two. This module does the part that needs
character-level care and is cheap: it finds each ISA...IEA interchange, reads its
delimiters from the ISA segment (never assuming ``*``, ``~`` or ``:``), and
describes how its segments are to be cut. Cutting the segments and giving them
loop context is done by the warehouse itself (``etl.loader``), which is much
faster than a Python loop over segments. Nothing here loops over segments in
Python on the way of a good file: only string methods and regular expressions,
which run in C.

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

import re
from dataclasses import dataclass

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
