"""Reading the envelope of an X12 file: where each interchange starts and ends and
which delimiters it declares.

The 835 reader is split in two. This module does the part that needs
character-level care and is cheap: it finds each ISA...IEA interchange, reads its
delimiters from the ISA segment (never assuming ``*``, ``~`` or ``:``), and
describes how its segments are to be cut. Cutting the segments and giving them
loop context is done by the warehouse itself (``etl.loader``), which is much
faster than a Python loop over segments.

Errors never quote file content: ERA files carry protected health information.
They name the file and a segment position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# An ISA segment is 106 characters when its elements are padded as the standard
# asks; some senders do not pad, so the ISA is read by counting separators.
_ISA_ELEMENTS = 16
_LINE_BREAKS = "\r\n"
_BOM = "\ufeff"


class X12FormatError(ValueError):
    """The file cannot be read as X12. ``segment_pos`` is 1-based, when known."""

    def __init__(self, reason: str, segment_pos: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.segment_pos = segment_pos


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
    first_segment_pos: int  # position of its first segment in the file (approximate
    # before blank segments are dropped; used only in error messages)


def decode(data: bytes) -> str:
    """Bytes to text. X12 uses a basic or extended character set; UTF-8 covers both.

    Bytes that are not UTF-8 are read as Latin-1 so that no segment is lost; a
    file with NUL bytes or many control characters is not text at all.
    """
    head = data[:4096]
    if b"\x00" in head:
        raise X12FormatError("not X12: binary content (NUL bytes)")
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    if controls > len(head) // 20:
        raise X12FormatError("not X12: binary content")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text.removeprefix(_BOM)


def _skip_space(text: str, pos: int) -> int:
    n = len(text)
    while pos < n and text[pos] in " \t\r\n\x0c":
        pos += 1
    return pos


def _read_isa(text: str, start: int, seq: int, segment_pos: int) -> tuple[str, str, str | None,
                                                                          str, str, int]:
    """Delimiters of the ISA at ``start``: element, component, repetition, terminator,
    extra strip characters, and the offset just past the terminator."""
    if len(text) < start + 4:
        raise X12FormatError("truncated: ISA segment is incomplete", segment_pos)
    elem = text[start + 3]
    if elem.isalnum() or elem in " \r\n":
        raise X12FormatError("not X12: ISA has no valid element separator", segment_pos)
    idx = start + 3
    for _ in range(_ISA_ELEMENTS - 1):
        idx = text.find(elem, idx + 1)
        if idx < 0:
            raise X12FormatError("truncated: ISA segment is incomplete", segment_pos)
    # idx is the separator before ISA16; ISA16 is one character, the terminator follows.
    if len(text) < idx + 3:
        raise X12FormatError("truncated: ISA segment is incomplete", segment_pos)
    component = text[idx + 1]
    term = text[idx + 2]
    if term.isalnum() or term == " " or term in (elem, component):
        raise X12FormatError("not X12: ISA has no valid segment terminator", segment_pos)

    isa = text[start:idx + 2].split(elem)
    version = isa[12] if len(isa) > 12 else ""
    repetition = isa[11] if version >= "00501" and len(isa[11]) == 1 else None

    # What may sit between a terminator and the next segment id: line breaks, and
    # in some old files a stray character (e.g. "\n~GS|..." where the newline is
    # the terminator). Learn it from the gap before GS.
    after = idx + 3
    gap_end = after
    while gap_end < len(text) and not text[gap_end].isalnum():
        gap_end += 1
    gap = text[after:gap_end]
    strip = _LINE_BREAKS
    extra = "".join(sorted(set(c for c in gap if c not in _LINE_BREAKS + " ")))
    if extra and term not in extra:
        strip += extra
    return elem, component, repetition, term, strip, after


def _find_iea_end(text: str, start: int, elem: str, term: str, strip: str) -> int:
    """Offset just past the IEA terminator of the interchange starting at ``start``."""
    lead = "[" + re.escape(strip) + " ]*" if strip else ""
    pattern = re.compile(re.escape(term) + lead + "IEA" + re.escape(elem))
    match = pattern.search(text, start)
    if match is None:
        return -1
    end = text.find(term, match.end())
    if end < 0:
        # A newline-terminated file may simply lack the final newline.
        if term in _LINE_BREAKS and text[match.end():].strip():
            return len(text)
        return -2
    return end + 1


def _bare_delimiters(text: str, start: int) -> tuple[str, str, str]:
    """Delimiters of a file that starts at ST with no ISA envelope (seen in test files
    and in exports of some practice systems): element separator after "ST", the
    terminator after the ST segment, and ':' unless SVC01 shows another."""
    elem = text[start + 2]
    if elem.isalnum() or elem in " \r\n":
        raise X12FormatError("not X12: file does not start with ISA or ST", 1)
    idx = start + 3
    while idx < len(text) and (text[idx].isalnum() or text[idx] in (elem, " ")):
        idx += 1
    if idx >= len(text):
        raise X12FormatError("truncated: ST segment is not terminated", 1)
    term = text[idx]
    component = ":"
    m = re.search(re.escape(elem) + r"(?:HC|AD|ER|IV|NU|WK|ZZ|N4)([^A-Za-z0-9 ])", text)
    if m and m.group(1) not in (elem, term):
        component = m.group(1)
    return elem, component, term


def split_interchanges(text: str) -> list[Interchange]:
    """Find every interchange of the file, in order. Raises X12FormatError with a
    reason for a file that is not X12 or is truncated."""
    pos = _skip_space(text, 0)
    if pos >= len(text):
        raise X12FormatError("empty file")

    if not text.startswith("ISA", pos):
        if text.startswith("ST", pos) and len(text) > pos + 3:
            elem, component, term = _bare_delimiters(text, pos)
            return [Interchange(0, elem, component, None, term, _LINE_BREAKS,
                                text[pos:].rstrip(" \t\r\n" + term), 1)]
        raise X12FormatError("not X12: file does not start with ISA or ST", 1)

    result: list[Interchange] = []
    approx_pos = 1
    while pos < len(text):
        if not text.startswith("ISA", pos):
            raise X12FormatError(
                f"unexpected content after interchange {len(result)}: expected ISA",
                approx_pos,
            )
        elem, component, repetition, term, strip, _ = _read_isa(text, pos, len(result) + 1,
                                                                 approx_pos)
        end = _find_iea_end(text, pos, elem, term, strip)
        if end == -1:
            raise X12FormatError(
                f"truncated: interchange {len(result) + 1} has no IEA", approx_pos)
        if end == -2:
            raise X12FormatError(
                f"truncated: IEA of interchange {len(result) + 1} is not terminated",
                approx_pos)
        body = text[pos:end]
        if body.endswith(term):
            body = body[: -len(term)]
        result.append(Interchange(len(result) + 1, elem, component, repetition, term, strip,
                                  body, approx_pos))
        approx_pos += body.count(term) + 1
        pos = _skip_space(text, end)
        # Characters learnt as stray leaders (e.g. '~') may precede the next ISA.
        while pos < len(text) and text[pos] in strip:
            pos = _skip_space(text, pos + 1)
    return result


def clean_body(ich: Interchange) -> str:
    """The interchange text with everything that is not part of a segment removed, so
    that cutting it on the terminator gives exactly its segments, none empty.

    Line breaks are never data in X12 (they are outside its character sets), so when
    the terminator is not itself a line break every CR and LF goes; this also mends
    files wrapped at 80 columns. A newline terminator keeps LF and loses CR; a CR
    terminator keeps CR and loses LF. Blank lines, doubled terminators and stray
    leading characters between segments go too. Plain ``str`` methods keep this at
    memory speed.
    """
    term = ich.segment_term
    body = ich.body
    for brk in "\r\n":
        if brk != term and brk in body:
            body = body.replace(brk, "")
    for junk in ich.strip_chars:
        if junk not in _LINE_BREAKS and junk != term:
            body = body.replace(term + junk, term)
    if " " + term in body or term + " " in body:
        body = re.sub(" *" + re.escape(term) + " *", term, body)
    doubled = term + term
    while doubled in body:
        body = body.replace(doubled, term)
    return body.strip(term)


def count_segments(body: str, term: str) -> int:
    return body.count(term) + 1 if body else 0
