"""A streaming tar reader that assigns bytes to members exactly as Go's archive/tar (the runtime) does."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from scanner.decompress import Readable
from scanner.errors import LayerError, LimitError
from scanner.tarheader import (
    AREGTYPE,
    BLKTYPE,
    BLOCK,
    CHRTYPE,
    CONTTYPE,
    DIRTYPE,
    FIFOTYPE,
    GNU_LONGLINK,
    GNU_LONGNAME,
    GNU_SPARSE,
    LNKTYPE,
    NO_DATA_TYPES,
    PAX_GLOBAL,
    PAX_LOCAL,
    REGTYPE,
    REGULAR_TYPES,
    SHAPING,
    SOLARIS_PAX,
    SYMTYPE,
    ZERO_BLOCK,
    Extensions,
    header_name,
    header_numbers,
    nts,
    parse_number,
    parse_pax,
)

# Re-exported: the walker and the sources know the tar reader by this module.
__all__ = [
    "AREGTYPE",
    "BLKTYPE",
    "BLOCK",
    "CHRTYPE",
    "CONTTYPE",
    "DIRTYPE",
    "FIFOTYPE",
    "LNKTYPE",
    "REGTYPE",
    "REGULAR_TYPES",
    "SYMTYPE",
    "TarEntry",
    "TarStream",
    "parse_number",
]


@dataclass(slots=True)
class TarEntry:
    """One archive member as Go's archive/tar reports it, plus the raw extended headers that preceded it."""

    name: str  # directories without their trailing slash
    type: bytes  # the typeflag byte, e.g. b"0", b"5", b"2"; b"g" for a PAX global header
    size: int
    mode: int
    linkname: str
    offset: int  # stream offset of the first header block that belongs to this member
    has_data: bool  # whether `size` bytes of data follow in the archive
    sparse: bool = False  # GNU sparse: data is the stored (packed) bytes, not the file's real contents
    pax_records: list[bytes] = field(default_factory=list)  # raw text of each PAX header before it
    pax_global: bool = False  # this entry is a PAX global header (Go applies it to no member)

    def isreg(self) -> bool:
        return self.type in REGULAR_TYPES

    def isdir(self) -> bool:
        return self.type == DIRTYPE


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
        self.ended = False  # reached the end of the archive (end blocks, or EOF where Go allows it)
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
        if self._pos + n > len(self._buf) and not self._fill(n):
            raise LayerError(f"tar stream is truncated inside {what} at offset {self.position}")
        pos = self._pos
        self._pos = pos + n
        return self._buf[pos : pos + n]

    def _discard(self, n: int) -> bool:
        """Skip n bytes; False if the stream ends first."""
        while n:
            avail = len(self._buf) - self._pos
            if not avail:
                if not self._fill(1):
                    return False
                avail = len(self._buf)
            step = min(n, avail)
            self._pos += step
            n -= step
        return True

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
        skip = self._data_left + self._pad_left
        if skip <= len(self._buf) - self._pos:
            self._pos += skip
            self._data_left = self._pad_left = 0
            return
        if self._data_left and not self._discard(self._data_left):
            raise LayerError(f"tar stream is truncated inside member data at offset {self.position}")
        # Go stops cleanly when the stream ends inside the padding after the last member's data.
        self._discard(self._pad_left)
        self._data_left = self._pad_left = 0

    def _header_data(self, size: int, what: str) -> bytes:
        if size > self._max_header:
            raise LimitError(f"{what} of {size} bytes exceeds the {self._max_header}-byte header limit")
        data = self._take(size, what)
        self._discard(-size % BLOCK)
        return data

    def _block(self) -> bytes | None:
        """The next header block; None where the stream ends exactly at a block boundary."""
        pos = self._pos
        if pos + BLOCK <= len(self._buf) or self._fill(BLOCK):
            pos = self._pos
            self._pos = pos + BLOCK
            return self._buf[pos : pos + BLOCK]
        if len(self._buf) == self._pos:
            return None
        raise LayerError(f"tar stream is truncated inside a header at offset {self.position}")

    def _end_of_archive(self, ext: Extensions | None) -> None:
        """At a zero block (left unread: end blocks belong to the trailing bytes): Go's end rules."""
        if ext is not None:
            raise LayerError(
                f"tar extended header at offset {self.position} is followed by the end of archive"
            )
        if len(self._buf) - self._pos < 2 * BLOCK:
            self._fill(2 * BLOCK)
        left = len(self._buf) - self._pos
        if BLOCK < left < 2 * BLOCK:
            raise LayerError(f"tar stream is truncated after a zero block at offset {self.position}")
        if left >= 2 * BLOCK and self._buf[self._pos + BLOCK : self._pos + 2 * BLOCK] != ZERO_BLOCK:
            raise LayerError(
                f"tar stream has a single zero block before a header at offset {self.position}; "
                "the runtime rejects it"
            )
        self.ended = True

    def next(self) -> TarEntry | None:
        """The next member's header (skipping what is left of the previous member), or None at the end."""
        if self.ended:
            return None
        self._finish_member()
        start = self.position
        ext: Extensions | None = None  # made only when an extended header comes
        while True:
            block = self._block()
            if block is None:
                if ext is not None:
                    raise LayerError(f"tar stream is truncated after an extended header at offset {start}")
                self.ended = self.eof_without_marker = True
                return None
            if block == ZERO_BLOCK:
                self._pos -= BLOCK
                self._end_of_archive(ext)
                return None
            at = self.position - BLOCK
            numbers = header_numbers(block)
            if numbers is None:
                raise LayerError(f"tar header checksum mismatch at offset {at}")
            mode, size = numbers
            kind = block[156:157]
            if size < 0 and kind not in NO_DATA_TYPES:
                raise LayerError(f"tar header has a negative size at offset {at}")
            if kind in (GNU_LONGNAME, GNU_LONGLINK):
                ext = ext or Extensions()
                ext.set_long(kind, nts(self._header_data(size, "GNU long name")))
            elif kind == PAX_LOCAL:
                ext = ext or Extensions()
                ext.set_pax(self._header_data(size, "PAX header"))
            elif kind == PAX_GLOBAL:
                return self._global(block, mode, size, start, ext)
            elif kind == SOLARIS_PAX:
                raise LayerError(
                    f"tar header at offset {at} is a Solaris 'X' header: tar readers disagree on it"
                )
            else:
                return self._member(block, kind, mode, size, start, ext)

    def _global(self, block: bytes, mode: int, size: int, start: int, ext: Extensions | None) -> TarEntry:
        """A PAX global header is an entry of its own; Go applies it to no member."""
        if ext is not None:
            raise LayerError(f"tar extended header at offset {start} is followed by a global header")
        text = self._header_data(size, "PAX global header")
        records = parse_pax(text)
        if any(key in records for key in SHAPING) or any(k.startswith("GNU.sparse.") for k in records):
            raise LayerError(
                f"tar PAX global header at offset {start} sets a name or size: tar readers disagree on it"
            )
        return TarEntry(header_name(block), PAX_GLOBAL, 0, mode, "", start, False, False, [text], True)

    def _member(
        self, block: bytes, kind: bytes, mode: int, size: int, start: int, ext: Extensions | None
    ) -> TarEntry:
        name = header_name(block)
        linkname = nts(block[157:257]) if block[157] else ""
        sparse = kind == GNU_SPARSE
        records: list[bytes] = []
        if ext is not None:
            name, linkname = ext.name_and_link(name, linkname)
            pax = ext.pax or {}
            if "size" in pax:
                size = int(pax["size"])
            if any(key.startswith("GNU.sparse.") for key in pax):
                sparse = True
                name = pax.get("GNU.sparse.name") or name
            records = ext.records
        if kind == AREGTYPE:
            # Go decides on the final name, tarfile on the header's name field: they must agree.
            if name.endswith("/") != nts(block[0:100]).endswith("/"):
                raise LayerError(
                    f"tar member at offset {start} is a file or a directory depending on the reader"
                )
            kind = DIRTYPE if name.endswith("/") else REGTYPE
        if kind == GNU_SPARSE:
            self._skip_sparse_extensions(block)
        if kind == DIRTYPE:
            name = name.rstrip("/")
        has_data = kind not in NO_DATA_TYPES
        if has_data and size < 0:
            raise LayerError(f"tar member at offset {start} has a negative size")
        self._data_left = size if has_data else 0
        self._pad_left = -self._data_left % BLOCK
        return TarEntry(name, kind, size, mode, linkname, start, has_data, sparse, records, False)

    def _skip_sparse_extensions(self, block: bytes) -> None:
        extended = block[482]
        while extended:
            extended = self._take(BLOCK, "GNU sparse header")[504]

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
