"""A minimal streaming tar reader (ustar, GNU, PAX) that gives the same members as tarfile "r|", faster."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from scanner.decompress import Readable
from scanner.errors import LayerError, LimitError

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
# Types whose header `size` says nothing about data in the archive (tarfile skips no data for them).
_NO_DATA_TYPES = frozenset((LNKTYPE, SYMTYPE, DIRTYPE, FIFOTYPE, CHRTYPE, BLKTYPE))
_PAX_RECORD = re.compile(rb"(\d+) ([^=]+)=")
_PAX_CHARSET = re.compile(rb"\d+ hdrcharset=([^\n]+)\n")
_SIGNED = struct.Struct("148b8x356b")


@dataclass(slots=True)
class TarEntry:
    """One archive member as tarfile would report it, plus the raw extended headers that preceded it."""

    name: str
    type: bytes  # the typeflag byte, e.g. b"0", b"5", b"2"
    size: int
    mode: int
    linkname: str
    offset: int  # stream offset of the first header block that belongs to this member
    has_data: bool  # whether `size` bytes of data follow in the archive
    sparse: bool = False  # GNU sparse: data is the stored (packed) bytes, not the file's real contents
    pax_records: list[bytes] = field(default_factory=list)  # raw text of each PAX header before it
    pax_global: bool = False  # one of pax_records was a global ('g') header

    def isreg(self) -> bool:
        return self.type in REGULAR_TYPES

    def isdir(self) -> bool:
        return self.type == DIRTYPE


def _nts(data: bytes) -> str:
    end = data.find(b"\0")
    if end != -1:
        data = data[:end]
    return data.decode("utf-8", "surrogateescape")


def parse_number(data: bytes) -> int:
    try:
        # Fast path: digits padded with NUL or spaces; anything odd falls through to tarfile's rules.
        return int(data.rstrip(b"\0 ") or b"0", 8)
    except ValueError:
        pass
    if data[0] in (0o200, 0o377):
        value = int.from_bytes(data[1:], "big")
        if data[0] == 0o377:
            value = -(256 ** (len(data) - 1) - value)
        return value
    end = data.find(b"\0")
    if end != -1:
        data = data[:end]
    try:
        return int(data.strip() or b"0", 8)
    except ValueError:
        raise LayerError("tar header has an invalid number field") from None


def _checksum_ok(block: bytes) -> bool:
    stored = parse_number(block[148:156])
    unsigned = 256 + sum(block) - sum(block[148:156])
    return stored == unsigned or stored == 256 + sum(_SIGNED.unpack_from(block))


def _decode_pax(value: bytes) -> str:
    try:
        return value.decode("utf-8", "strict")
    except UnicodeDecodeError:
        return value.decode("utf-8", "surrogateescape")


class TarStream:
    """Reads tar members from a non-seekable stream; call next() for a header, read() for its data."""

    def __init__(self, stream: Readable, *, max_header_bytes: int = 1 << 20, chunk: int = 1 << 20) -> None:
        self._stream = stream
        self._max_header = max_header_bytes
        self._chunk = chunk
        self._buf = b""
        self._pos = 0
        self._consumed = 0  # stream bytes taken out of the buffer so far
        self._data_left = 0
        self._pad_left = 0
        self._global: dict[str, str] = {}
        self.ended = False  # reached an end-of-archive block
        self.eof_without_marker = False  # the stream stopped at a member boundary with no end block

    @property
    def position(self) -> int:
        """Stream offset of the next unread byte."""
        return self._consumed + self._pos

    def _fill(self, want: int) -> bool:
        """Make at least `want` bytes available in the buffer; False if the stream ends first."""
        parts = [self._buf[self._pos :]]
        have = len(parts[0])
        self._consumed += self._pos
        while have < want:
            data = self._stream.read(max(self._chunk, want - have))
            if not data:
                self._buf, self._pos = b"".join(parts), 0
                return False
            parts.append(data)
            have += len(data)
        self._buf, self._pos = b"".join(parts), 0
        return True

    def _take(self, n: int, what: str) -> bytes:
        pos = self._pos
        end = pos + n
        if end > len(self._buf) and not self._fill(n):
            raise LayerError(f"tar stream is truncated inside {what} at offset {self.position}")
        pos = self._pos
        end = pos + n
        self._pos = end
        return self._buf[pos:end]

    def _discard(self, n: int, what: str) -> None:
        while n:
            avail = len(self._buf) - self._pos
            if not avail:
                if not self._fill(1):
                    raise LayerError(f"tar stream is truncated inside {what} at offset {self.position}")
                avail = len(self._buf)
            step = min(n, avail)
            self._pos += step
            n -= step

    def read(self, size: int = -1, /) -> bytes:
        """Up to `size` bytes (all, if negative) of the current member's data; b"" once it is all read."""
        if size < 0:
            return self.read_all()
        if self._data_left <= 0 or size == 0:
            return b""
        size = min(size, self._data_left)
        avail = len(self._buf) - self._pos
        if avail:
            size = min(size, avail)
            data = self._buf[self._pos : self._pos + size]
            self._pos += size
        elif size >= self._chunk:
            data = self._stream.read(size)
            while len(data) < size:
                more = self._stream.read(size - len(data))
                if not more:
                    raise LayerError(f"tar stream is truncated inside member data at offset {self.position}")
                data += more
            self._consumed += size
        else:
            if not self._fill(1):
                raise LayerError(f"tar stream is truncated inside member data at offset {self.position}")
            return self.read(size)
        self._data_left -= len(data)
        return data

    def read_all(self) -> bytes:
        """The rest of the current member's data in one piece (callers bound the size)."""
        if self._data_left <= 0:
            return b""
        data = self._take(self._data_left, "member data")
        self._data_left = 0
        return data

    def _finish_member(self) -> None:
        if self._data_left or self._pad_left:
            self._discard(self._data_left + self._pad_left, "member data")
            self._data_left = self._pad_left = 0

    def _header_data(self, size: int, what: str) -> bytes:
        if size > self._max_header:
            raise LimitError(f"{what} of {size} bytes exceeds the {self._max_header}-byte header limit")
        data = self._take(size, what)
        self._discard(-size % BLOCK, what)
        return data

    def next(self) -> TarEntry | None:
        """The next member's header (skipping what is left of the previous member), or None at the end."""
        if self.ended:
            return None
        self._finish_member()
        start = self.position
        long_name: str | None = None
        long_link: str | None = None
        pax_records: list[bytes] = []
        local: dict[str, str] | None = None
        pax_global = False
        while True:
            pos = self._pos
            if pos + BLOCK <= len(self._buf):
                block = self._buf[pos : pos + BLOCK]
                self._pos = pos + BLOCK
            elif self._fill(BLOCK):
                block = self._buf[:BLOCK]
                self._pos = BLOCK
            elif len(self._buf) - self._pos == 0 and not pax_records and long_name is long_link is None:
                self.ended = True
                self.eof_without_marker = True
                return None
            else:
                raise LayerError(f"tar stream is truncated inside a header at offset {self.position}")
            if block == ZERO_BLOCK:
                if pax_records or long_name is not None or long_link is not None:
                    raise LayerError(
                        f"tar extended header at offset {start} is followed by the end of archive"
                    )
                self.ended = True
                self._pos -= BLOCK  # the end blocks belong to the trailing bytes the caller reads
                return None
            if not _checksum_ok(block):
                raise LayerError(f"tar header checksum mismatch at offset {self.position - BLOCK}")
            kind = block[156:157]
            size = parse_number(block[124:136])
            if size < 0:
                raise LayerError(f"tar header has a negative size at offset {self.position - BLOCK}")
            if kind == GNU_LONGNAME:
                long_name = _nts(self._header_data(size, "GNU long name"))
                continue
            if kind == GNU_LONGLINK:
                long_link = _nts(self._header_data(size, "GNU long link name"))
                continue
            if kind in (PAX_LOCAL, PAX_GLOBAL, SOLARIS_PAX):
                text = self._header_data(size, "PAX header")
                pax_records.append(text)
                if kind == PAX_GLOBAL:
                    pax_global = True
                    self._parse_pax(text, self._global)
                else:
                    local = dict(self._global) if local is None else local
                    self._parse_pax(text, local)
                continue
            return self._member(
                block, kind, size, start, long_name, long_link, local, pax_records, pax_global
            )

    def _member(
        self,
        block: bytes,
        kind: bytes,
        size: int,
        start: int,
        long_name: str | None,
        long_link: str | None,
        pax: dict[str, str] | None,
        pax_records: list[bytes],
        pax_global: bool,
    ) -> TarEntry:
        name = _nts(block[0:100])
        linkname = _nts(block[157:257])
        if kind == AREGTYPE and name.endswith("/"):
            kind = DIRTYPE
        sparse = kind == GNU_SPARSE
        if sparse:
            self._skip_sparse_extensions(block)
        if kind == DIRTYPE:
            name = name.rstrip("/")
        if kind != GNU_SPARSE and block[345]:
            prefix = _nts(block[345:500])
            if prefix:
                name = prefix + "/" + name
        if long_name is not None:
            name = long_name.removesuffix("/") if kind == DIRTYPE else long_name
        if long_link is not None:
            linkname = long_link
        if pax is not None:
            for key, value in pax.items():
                if key == "path" or key == "GNU.sparse.name":
                    name = value.rstrip("/")
                elif key == "linkpath":
                    linkname = value
                elif key == "size":
                    size = _pax_int(value)
                elif key.startswith("GNU.sparse."):
                    sparse = True
        has_data = kind not in _NO_DATA_TYPES
        self._data_left = size if has_data else 0
        self._pad_left = -self._data_left % BLOCK
        return TarEntry(
            name=name,
            type=kind,
            size=size,
            mode=parse_number(block[100:108]),
            linkname=linkname,
            offset=start,
            has_data=has_data,
            sparse=sparse,
            pax_records=pax_records,
            pax_global=pax_global,
        )

    def _skip_sparse_extensions(self, block: bytes) -> None:
        extended = block[482]
        while extended:
            ext = self._take(BLOCK, "GNU sparse header")
            extended = ext[504]

    def _parse_pax(self, text: bytes, into: dict[str, str]) -> None:
        match = _PAX_CHARSET.search(text)
        if match is not None:
            into["hdrcharset"] = _decode_pax(match.group(1))
        pos = 0
        while True:
            record = _PAX_RECORD.match(text, pos)
            if record is None:
                break
            length = int(record.group(1))
            if length == 0:
                raise LayerError("tar PAX header has a zero-length record")
            value = text[record.end(2) + 1 : record.start(1) + length - 1]
            into[_decode_pax(record.group(2))] = _decode_pax(value)
            pos += length

    def rest(self) -> Iterator[bytes]:
        """After the end of the archive: every remaining byte of the stream, end blocks included."""
        if self._pos < len(self._buf):
            yield self._buf[self._pos :]
        self._consumed += len(self._buf)
        self._buf, self._pos = b"", 0
        while True:
            data = self._stream.read(self._chunk)
            if not data:
                return
            self._consumed += len(data)
            yield data

    def __iter__(self) -> Iterator[TarEntry]:
        while (entry := self.next()) is not None:
            yield entry


def _pax_int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        return 0
