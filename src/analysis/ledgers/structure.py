"""What a text ledger file *is*, measured from its raw bytes independently of the CSV parser.

A parser that swallows rows (an unclosed quote that eats the rest of the file, a line ending it does
not know) could otherwise reconcile with itself. Here the whole file is decoded strictly in exactly one
encoding, its records are counted from the line terminators (and, when the file contains quote
characters, by Python's own csv module in strict mode), and the header is checked for duplicate names.
Any disagreement is a one-line UserError naming the row.
"""

from __future__ import annotations

import codecs
import csv
import mmap
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from . import detect

CHUNK = 1 << 24
# A well-formed multi-byte UTF-8 sequence: its presence shows a file was written as UTF-8.
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


@dataclass(frozen=True)
class TextScan:
    """Counts over the whole decoded file."""

    encoding: str
    lines: int  # physical lines (a final line without terminator counts)
    quotes: int


def _line_of(mm, offset: int) -> int:
    return mm[:offset].count(b"\n") + 1


def _scan(mm, encoding: str) -> TextScan | tuple[int, int, bytes]:
    """Decode all of mm strictly: TextScan, or (line, offset, bytes) of the first byte that does not decode."""
    if encoding in ("utf-8", "utf-8-sig"):
        fast = _scan_utf8(mm, encoding)
        if fast is not None:
            return fast
    return _scan_decoding(mm, encoding)


def _scan_utf8(mm, encoding: str) -> TextScan | None:
    """_scan of a UTF-8 file at memory speed: arrow's UTF-8 validation of each piece (cut where no
    character spans the cut) and byte counts. None when any piece is not valid UTF-8: _scan_decoding then
    finds the first bad byte, row and offset."""
    import numpy as np
    import pyarrow as pa

    size = len(mm)
    terminators = quotes = 0
    has_cr = False
    start = 0
    while start < size:
        end = min(start + CHUNK, size)
        while end < size and 0x80 <= mm[end] < 0xC0:  # never cut inside a multi-byte character
            end -= 1
        chunk = mm[start:end]
        offsets = pa.py_buffer(np.array([0, len(chunk)], dtype=np.int64).tobytes())
        try:
            pa.Array.from_buffers(pa.large_utf8(), 1, [None, offsets, pa.py_buffer(chunk)]).validate(full=True)
        except pa.ArrowInvalid:
            return None
        terminators += chunk.count(b"\n")
        has_cr = has_cr or b"\r" in chunk
        quotes += chunk.count(b'"') if b'"' in chunk else 0
        start = end
    if has_cr:
        return None  # \r and \r\n line ends (and one split between pieces) are counted by _scan_decoding
    last = mm[size - 1 : size]
    lines = terminators + (1 if last not in (b"\n", b"") else 0)
    return TextScan(encoding, lines, quotes)


def _scan_decoding(mm, encoding: str) -> TextScan | tuple[int, int, bytes]:
    """_scan through Python's incremental decoder, for every encoding."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    ascii_compatible = not encoding.startswith("utf-16")  # line ends and quotes can be counted on the bytes
    terminators = quotes = 0
    last = ""
    size = len(mm)
    for start in range(0, max(size, 1), CHUNK):
        chunk = mm[start : start + CHUNK]
        try:
            text = decoder.decode(chunk, final=start + CHUNK >= size)
        except UnicodeDecodeError as exc:
            return _first_bad_exact(mm, encoding, start + exc.start)
        if ascii_compatible:
            text = chunk
            nl, cr, crlf, quote = b"\n", b"\r", b"\r\n", b'"'
        else:
            nl, cr, crlf, quote = "\n", "\r", "\r\n", '"'
        if not text:
            continue
        terminators += text.count(nl) + text.count(cr) - text.count(crlf)
        if last == cr and text[:1] == nl:
            terminators -= 1
        quotes += text.count(quote)
        last = text[-1:]
    lines = terminators + (1 if last not in (b"\n", b"\r", "\n", "\r", b"", "") else 0)
    return TextScan(encoding, lines, quotes)


def _first_bad_exact(mm, encoding: str, near: int) -> tuple[int, int, bytes]:
    """The exact offset of the first undecodable byte (a chunk boundary may hide a few bytes of state)."""
    start = max(0, near - 8)
    while start > 0 and encoding.startswith("utf-8") and 0x80 <= mm[start] < 0xC0:
        start -= 1
    if encoding.startswith("utf-16"):
        start = 0
    try:
        bytes(mm[start:]).decode(encoding)
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        return _line_of(mm, offset), offset, bytes(mm[offset : offset + 4])
    return _line_of(mm, near), near, bytes(mm[near : near + 4])


def _bad_bytes(path: Path, where: tuple[int, int, bytes], encoding: str, why: str = "") -> UserError:
    line, offset, bad = where
    return UserError(f"{path}: row {line}: bytes {bad!r} at offset {offset} do not decode as {encoding}{why}")


def decode_whole_file(path: Path, explicit: str | None) -> TextScan:
    """The file's one encoding, checked over every byte (never guessed from a prefix, never lossy).

    Without --encoding: a byte-order mark decides; else UTF-8 when the whole file is UTF-8; else
    Windows-1252 when the file holds no UTF-8 at all. A file that is UTF-8 in places and not in others
    is an error naming the first offending byte, row and offset.
    """
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if explicit:
            try:
                codecs.lookup(explicit)
            except LookupError:
                raise UserError(f"--encoding {explicit!r} is not a known text encoding") from None
            result = _scan(mm, explicit)
            if isinstance(result, tuple):
                raise _bad_bytes(path, result, explicit)
            return result
        head = mm[:4]
        if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
            candidates = ["utf-16"]
        elif head.startswith(codecs.BOM_UTF8):
            candidates = ["utf-8-sig"]
        else:
            candidates = ["utf-8", "cp1252"]
        first = _scan(mm, candidates[0])
        if isinstance(first, TextScan):
            return first
        if len(candidates) == 1:
            raise _bad_bytes(path, first, candidates[0])
        if _UTF8_MULTIBYTE.search(mm):
            raise _bad_bytes(
                path, first, "utf-8",
                " although other rows are UTF-8: the file mixes encodings; re-save it in one encoding or pass --encoding",
            )
        second = _scan(mm, "cp1252")
        if isinstance(second, tuple):
            raise _bad_bytes(path, first, "utf-8", " nor as Windows-1252 ("
                             f"row {second[0]}: {second[2]!r}); pass --encoding")
        return second


def count_records(path: Path, scan: TextScan, delimiter: str) -> int:
    """Records in the file including the header, counted without the parser that reads the data.

    Without quote characters a record is a physical line. With them, Python's csv module (strict) counts
    quote-aware records, and an unclosed or misplaced quote is an error naming the row it starts on.
    A file whose quotes only wrap whole fields on one line (simple_quoting, the common case, checked ten
    times faster) has one record per line without asking the csv module; anything else (quoted line
    breaks, doubled or misplaced quotes) is still counted, or refused, by the csv module.
    """
    if scan.quotes == 0:
        return scan.lines
    if scan.encoding in ("utf-8", "utf-8-sig", "cp1252"):
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            if simple_quoting(mm, delimiter, 3 if mm[:3] == codecs.BOM_UTF8 else 0):
                return scan.lines
    records = 0
    with path.open("r", encoding=scan.encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        start = 1
        try:
            for _ in reader:
                records += 1
                start = reader.line_num + 1
        except csv.Error as exc:
            what = "a quote opened here is never closed" if "end of data" in str(exc) else f"misplaced quote ({exc})"
            raise UserError(f"{path}: row {start}: {what}; no row after it could be read reliably") from None
    return records


def simple_quoting(mm, delimiter: str, skip: int = 0) -> bool:
    """True when every quote character opens a field (at the start of a line or after a delimiter) or closes
    one (before a delimiter or a line end), opening and closing alternate on each line, no line holds a
    carriage return and none is as long as the csv module's field limit. Then no quote is inside a field's
    text and no quoted field spans lines: each physical line is exactly one record for Python's csv module
    (strict), which can raise no error on such a file. Counted with numpy over the bytes, a piece of
    whole lines at a time. `skip`: bytes of a byte-order mark."""
    import numpy as np

    if len(delimiter.encode("utf-8")) != 1:
        return False
    delim = delimiter.encode("utf-8")[0]
    data = np.frombuffer(mm, dtype=np.uint8)
    size, start = len(data), skip
    limit = csv.field_size_limit()
    while start < size:
        end = min(start + 2 * CHUNK, size)
        if end < size:
            cut = mm.rfind(b"\n", start, end) if isinstance(mm, mmap.mmap) else bytes(mm[start:end]).rfind(b"\n") + start
            if cut < start:
                return False  # a line longer than the piece
            end = cut + 1
        piece = data[start:end]
        if (piece == 13).any():
            return False
        lines = np.flatnonzero(piece == 10).astype(np.int32)
        if len(lines) and max(int(np.diff(lines).max(initial=0)), int(lines[0]) + 1, len(piece) - int(lines[-1])) >= limit:
            return False
        if not len(lines) and len(piece) >= limit:
            return False
        quotes = np.flatnonzero(piece == 34).astype(np.int32)
        if len(quotes):
            if len(quotes) % 2:
                return False
            newline = np.array([10], dtype=np.uint8)
            padded = np.concatenate((newline, piece, newline))
            before, after = padded[quotes], padded[quotes + 2]
            opens = (before == delim) | (before == 10)
            closes = (after == delim) | (after == 10)
            if not (opens[0::2].all() and closes[1::2].all()) or (opens & closes).any():
                return False  # a quote inside a field's text, or a lone quote between delimiters
            if (np.searchsorted(quotes, lines) % 2).any():
                return False  # a line ends inside a quoted field
        start = end
    return True


def check_header(path: Path, headers: list[str], where: str = "header row 1") -> None:
    """Two columns with the same (normalised) name: which one holds the amount would be a guess."""
    seen: dict[str, int] = {}
    for i, h in enumerate(headers, start=1):
        norm = detect.norm_header(h)
        if not norm:
            continue
        if norm in seen:
            raise UserError(
                f"{path}: {where}: column {h!r} appears twice (columns {seen[norm]} and {i}); rename one of them"
            )
        seen[norm] = i
