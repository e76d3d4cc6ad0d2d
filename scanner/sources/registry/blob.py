"""A registry blob read as it downloads, hashed on the way: a wrong digest or short body is a LayerError."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from typing import BinaryIO

import requests

from scanner.errors import LayerError, ScanError
from scanner.sources.registry.client import RegistryClient

_BUFFER = 1 << 20


@dataclass(frozen=True)
class RegistryBlob:
    """A content-addressed blob: the registry is asked for `digest` and every byte is checked against it."""

    client: RegistryClient = field(compare=False, repr=False)
    digest: str
    size: int | None

    @property
    def key(self) -> tuple[object, ...]:
        return ("registry", self.client.ref.api_host, self.client.ref.repository, self.digest)

    @property
    def trusted_digest(self) -> str | None:
        """The digest open() enforces: bytes that do not hash to it never end in a clean read."""
        return self.digest

    def open(self) -> BinaryIO:
        try:
            response = self.client.get(f"blobs/{self.digest}", f"blob {self.digest[:19]}")
        except ScanError as exc:
            raise LayerError(str(exc)) from None
        return io.BufferedReader(_VerifiedBody(response, self.digest, self.size), _BUFFER)


class _VerifiedBody(io.RawIOBase):
    """The response body as sent (no transfer decoding), hashed; checked against size and digest at EOF."""

    def __init__(self, response: requests.Response, digest: str, size: int | None) -> None:
        self._response = response
        self._digest = digest
        self._size = size
        self._hash = hashlib.sha256()
        self._count = 0
        self._verified = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._verified:
            return 0
        view = memoryview(buffer).cast("B")
        want = len(view) if self._size is None else min(len(view), self._size - self._count + 1)
        try:
            chunk = self._response.raw.read(want, decode_content=False) if want > 0 else b""
        except (requests.exceptions.RequestException, OSError, ValueError) as exc:
            raise LayerError(
                f"blob {self._digest[:19]}: download broke off after {self._count} bytes "
                f"({type(exc).__name__})"
            ) from None
        if chunk:
            self._hash.update(chunk)
            self._count += len(chunk)
            if self._size is not None and self._count > self._size:
                raise LayerError(
                    f"blob {self._digest[:19]}: registry sent more than the {self._size} bytes declared"
                )
            view[: len(chunk)] = chunk
            return len(chunk)
        self._finish()
        return 0

    def _finish(self) -> None:
        if self._size is not None and self._count != self._size:
            raise LayerError(
                f"blob {self._digest[:19]}: registry sent {self._count} of the {self._size} bytes declared"
            )
        actual = "sha256:" + self._hash.hexdigest()
        if actual != self._digest:
            raise LayerError(
                f"blob {self._digest[:19]}: the registry's bytes hash to {actual[:19]}, not its digest"
            )
        self._verified = True

    def close(self) -> None:
        self._response.close()
        super().close()
