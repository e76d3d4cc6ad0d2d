"""Where a blob's bytes come from: the Blob protocol every source implements, and a byte range of a file."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from scanner.errors import LayerError

_BUFFER = 1 << 20


class Blob(Protocol):
    """The stored bytes of a layer or document, wherever they are (a file range, an HTTP response)."""

    @property
    def size(self) -> int | None:
        """Stored size in bytes, when the source says it."""
        ...

    @property
    def key(self) -> tuple[object, ...]:
        """Identity for de-duplication: two blobs with equal keys are the same bytes of the same source."""
        ...

    @property
    def trusted_digest(self) -> str | None:
        """A digest that open() enforces (its reader raises LayerError at the end on a mismatch), so a cache
        may key on it without reading; None when nothing but reading the bytes can tell."""
        ...

    def open(self) -> BinaryIO:
        """A reader over the raw (stored) bytes; short or unreadable data raises LayerError."""
        ...


@dataclass(frozen=True)
class BlobLocation:
    """A byte range of a file on disk (picklable, for worker processes)."""

    path: str
    offset: int
    size: int

    @property
    def key(self) -> tuple[object, ...]:
        return ("file", self.path, self.offset, self.size)

    @property
    def trusted_digest(self) -> str | None:
        return None

    def open(self) -> BinaryIO:
        return io.BufferedReader(_RangeRaw(self), _BUFFER)


_: type[Blob] = BlobLocation


class _RangeRaw(io.RawIOBase):
    """Reads exactly `size` bytes from `offset` of a file; a short file is a LayerError, not a short read."""

    def __init__(self, loc: BlobLocation) -> None:
        try:
            self._file = open(loc.path, "rb")  # noqa: SIM115 - closed in close()
            self._file.seek(loc.offset)
        except OSError as e:
            raise LayerError(f"cannot open layer blob {loc.path}: {e.strerror or e}") from None
        self._left = loc.size
        self._path = loc.path

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        view = memoryview(buffer).cast("B")
        n = self._file.readinto(view[: min(len(view), self._left)])
        if not n:
            raise LayerError(f"layer blob {self._path} ends {self._left} bytes early")
        self._left -= n
        return n

    def close(self) -> None:
        self._file.close()
        super().close()
