"""Tar header fields and extended headers, parsed as strictly as Go's archive/tar (the runtime) does."""

from __future__ import annotations

import re
import struct

from scanner.errors import LayerError

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)

REGTYPE = b"0"
AREGTYPE = b"\0"
LNKTYPE = b"1"
SYMTYPE = b"2"
CHRTYPE = b"3"
BLKTYPE = b"4"
DIRTYPE = b"5"
FIFOTYPE = b"6"
CONTTYPE = b"7"
GNU_LONGNAME = b"L"
GNU_LONGLINK = b"K"
GNU_SPARSE = b"S"
PAX_LOCAL = b"x"
PAX_GLOBAL = b"g"
SOLARIS_PAX = b"X"

REGULAR_TYPES = frozenset((REGTYPE, AREGTYPE, CONTTYPE, GNU_SPARSE))
# Go's header-only types: their `size` says nothing about data in the archive.
NO_DATA_TYPES = frozenset((LNKTYPE, SYMTYPE, DIRTYPE, FIFOTYPE, CHRTYPE, BLKTYPE))
_SIGNED = struct.Struct("148b8x356b")
# The numeric fields as Go, tarfile and GNU tar write them (digits, then NUL): validated in one match.
# Bytes 100-345: mode, uid, gid, size, mtime, checksum, (type, link name, magic, owner names), devices.
_COMMON_HEADER = re.compile(
    rb"[0-7]{7}\0[0-7]{7}\0[0-7]{7}\0[0-7]{11}\0[0-7]{11}\0[0-7]{6}\0 .{173}(?:[0-7]{7}\0|\0{8}){2}",
    re.DOTALL,
)
_OCTAL = re.compile(rb"[0-7]+")
_GO_INT = re.compile(r"[+-]?[0-9]+")  # strconv.ParseInt(s, 10, 64)
_INT64 = 1 << 63
# PAX keys that decide a member's name or how many bytes it owns: where readers could apply them
# differently (a global header, a repeated header, an empty value), the stream is not trusted.
SHAPING = ("path", "linkpath", "size")


def nts(data: bytes) -> str:
    end = data.find(b"\0")
    if end != -1:
        data = data[:end]
    return data.decode("utf-8", "surrogateescape")


def _octal(field: bytes) -> int:
    """Go's parseOctal: trim spaces and NULs, cut at a NUL, then octal digits only."""
    text = field.strip(b" \0")
    end = text.find(b"\0")
    if end != -1:
        text = text[:end]
    if not text:
        return 0
    if _OCTAL.fullmatch(text) is None or int(text, 8) >= 1 << 64:
        raise LayerError("tar header has an invalid number field")
    return int(text, 8)


def parse_number(field: bytes) -> int:
    """A tar header number as Go's parseNumeric reads it: base-256 if the high bit is set, else octal."""
    if field and field[0] & 0x80:
        value = int.from_bytes(bytes((field[0] & 0x3F,)) + field[1:], "big")
        if field[0] & 0x40:  # negative: two's complement over the field's width
            value -= 1 << (8 * len(field) - 2)
        if not -_INT64 <= value < _INT64:
            raise LayerError("tar header has a base-256 number that overflows 64 bits")
        return value
    return _octal(field)


def _checksum_ok(block: bytes, common: bool) -> bool:
    stored = int(block[148:154], 8) if common else _octal(block[148:156])
    unsigned = 256 + sum(block) - sum(block[148:156])
    return stored == unsigned or stored == 256 + sum(_SIGNED.unpack_from(block))


def _go_int(value: str, what: str) -> int:
    if _GO_INT.fullmatch(value) is None or not -_INT64 <= int(value) < _INT64:
        raise LayerError(f"tar PAX header has an invalid {what} value")
    return int(value)


def _check_pax_time(value: str) -> None:
    seconds, _, fraction = value.partition(".")
    _go_int(seconds, "time")
    if fraction and not (fraction.isascii() and fraction.isdigit()):
        raise LayerError("tar PAX header has an invalid time value")


def _decode(value: bytes) -> str:
    return value.decode("utf-8", "surrogateescape")


def parse_pax(text: bytes) -> dict[str, str]:
    """The records of one PAX header, as strictly as Go's parsePAX (any malformed record is an error)."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        space = text.find(b" ", pos)
        digits = _decode(text[pos:space]) if space != -1 else ""
        if _GO_INT.fullmatch(digits) is None:
            raise LayerError("tar PAX header has a malformed record length")
        length = int(digits)
        end = pos + length
        if length < 5 or end > len(text) or end <= space + 1 or text[end - 1] != 0x0A:
            raise LayerError("tar PAX header has a malformed record")
        key, eq, value = text[space + 1 : end - 1].partition(b"=")
        if not eq or not key:
            raise LayerError("tar PAX header has a record without a key")
        if b"\0" in (value if key in (b"path", b"linkpath", b"uname", b"gname") else key):
            raise LayerError("tar PAX header has a NUL in a record")
        records[_decode(key)] = _decode(value)
        pos = end
    return records


def _apply_local_pax(records: dict[str, str]) -> None:
    """Go's mergePAX checks every numeric record; a bad one is an error."""
    for key, value in records.items():
        if not value:
            if key in SHAPING:  # Go keeps the header's value, tarfile takes the empty one
                raise LayerError(f"tar PAX header has an empty {key}: tar readers disagree on it")
        elif key in ("size", "uid", "gid"):
            _go_int(value, key)
        elif key in ("mtime", "atime", "ctime"):
            _check_pax_time(value)


class Extensions:
    """The GNU long name/link and local PAX headers seen before the member they apply to."""

    __slots__ = ("long_link", "long_name", "pax", "records")

    def __init__(self) -> None:
        self.long_name: str | None = None
        self.long_link: str | None = None
        self.pax: dict[str, str] | None = None
        self.records: list[bytes] = []

    def set_long(self, kind: bytes, value: str) -> None:
        # Go takes the last of repeated headers, tarfile the first; Go ignores an empty one.
        old = self.long_name if kind == GNU_LONGNAME else self.long_link
        if not value or (old is not None and old != value):
            raise LayerError("tar stream has an empty or repeated GNU long name: tar readers disagree on it")
        if kind == GNU_LONGNAME:
            self.long_name = value
        else:
            self.long_link = value

    def set_pax(self, text: bytes) -> None:
        records = parse_pax(text)
        _apply_local_pax(records)
        # Go uses only the last local PAX header; tarfile merges them, the first one winning.
        old = self.pax or {}
        if any(key in old and old[key] != records.get(key) for key in SHAPING):
            raise LayerError("tar stream has repeated PAX headers that disagree: tar readers differ on them")
        self.pax = records
        self.records.append(text)

    def name_and_link(self, name: str, linkname: str) -> tuple[str, str]:
        """Go's order: PAX path/linkpath first, then the GNU long name/link over them."""
        pax = self.pax or {}
        for key, long in (("path", self.long_name), ("linkpath", self.long_link)):
            if long is not None and key in pax and pax[key] != long:
                raise LayerError(f"tar member has a GNU long name and a PAX {key} that disagree")
        name = self.long_name if self.long_name is not None else pax.get("path", name)
        linkname = self.long_link if self.long_link is not None else pax.get("linkpath", linkname)
        return name, linkname


def header_name(block: bytes) -> str:
    """The name field with the ustar/star prefix, only where Go's format detection reads one."""
    name = nts(block[0:100])
    if not block[345]:
        return name
    magic = block[257:263]
    if magic == b"ustar\0":
        prefix = nts(block[345:476] if block[508:512] == b"tar\0" else block[345:500])
    elif magic == b"ustar " and block[263:265] == b" \0" and _gnu_times_invalid(block):
        prefix = nts(block[345:500])
        if not prefix.isascii():
            prefix = ""
    else:
        prefix = ""
    return prefix + "/" + name if prefix else name


def _gnu_times_invalid(block: bytes) -> bool:
    """GNU atime/ctime that Go cannot parse make it read the ustar prefix (a buggy 'GNU' writer)."""
    try:
        for start in (345, 357):
            if block[start]:
                parse_number(block[start : start + 12])
    except LayerError:
        return True
    return False


def header_numbers(block: bytes) -> tuple[int, int] | None:
    """Mode and size, None on a checksum mismatch; any numeric field Go parses must be valid."""
    if _COMMON_HEADER.fullmatch(block, 100, 345) is not None and not block.endswith(b"tar\0"):
        if not _checksum_ok(block, True):
            return None
        return int(block[100:107], 8), int(block[124:135], 8)
    if not _checksum_ok(block, False):
        return None
    for start, end in ((108, 116), (116, 124), (136, 148)):
        parse_number(block[start:end])
    magic = block[257:263]
    if magic == b"ustar\0" or (magic == b"ustar " and block[263:265] == b" \0"):
        parse_number(block[329:337])
        parse_number(block[337:345])
        if magic == b"ustar\0" and block.endswith(b"tar\0"):
            parse_number(block[476:488])
            parse_number(block[488:500])
    return parse_number(block[100:108]), parse_number(block[124:136])
