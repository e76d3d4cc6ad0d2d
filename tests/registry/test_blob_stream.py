"""The streamed registry blob: exact bytes pass; a wrong digest, a short or a long body is a LayerError."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
import requests

from scanner.errors import LayerError
from scanner.sources.registry.blob import RegistryBlob
from scanner.sources.registry.client import RegistryClient
from scanner.sources.registry.options import RegistryOptions
from scanner.sources.registry.reference import parse_reference

BODY = b"layer bytes " * 50_000


class FakeRaw:
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, amt: int, decode_content: bool = True) -> bytes:
        assert decode_content is False  # stored bytes, never transfer-decoded
        return self._data.read(amt)

    def close(self) -> None:
        self._data.close()

    def release_conn(self) -> None:
        return None


def blob_serving(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, body: bytes, size: int | None
) -> RegistryBlob:
    client = RegistryClient(parse_reference("docker://127.0.0.1:1/app:1"), RegistryOptions(), tmp_path)

    def fake_get(path: str, what: str, accept: str | None = None) -> Any:
        response = requests.Response()
        response.status_code = 200
        response.raw = FakeRaw(body)
        return response

    monkeypatch.setattr(client, "get", fake_get)
    return RegistryBlob(client, "sha256:" + hashlib.sha256(BODY).hexdigest(), size)


def read_all(blob: RegistryBlob) -> bytes:
    with blob.open() as reader:
        return reader.read()


def test_exact_bytes_read_through_and_the_digest_is_trusted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blob = blob_serving(monkeypatch, tmp_path, BODY, len(BODY))
    assert read_all(blob) == BODY
    assert blob.trusted_digest == blob.digest
    assert blob.key == ("registry", "127.0.0.1:1", "app", blob.digest)


@pytest.mark.parametrize(
    ("body", "size", "message"),
    [
        (BODY[:-1] + b"X", len(BODY), "not its digest"),
        (BODY[:-10], len(BODY), "of the"),
        (BODY + b"extra", len(BODY), "more than"),
        (BODY + b"extra", None, "not its digest"),
    ],
)
def test_wrong_short_or_long_bodies_are_layer_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, body: bytes, size: int | None, message: str
) -> None:
    with pytest.raises(LayerError, match=message):
        read_all(blob_serving(monkeypatch, tmp_path, body, size))
