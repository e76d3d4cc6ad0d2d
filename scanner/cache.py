"""Scan results on disk: layer results by the digest of the bytes read, daemon images by id; JSON only."""

from __future__ import annotations

import base64
import dataclasses
import enum
import functools
import hashlib
import json
import os
import tempfile
import types
import typing
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.errors import UsageError
from scanner.model import ImageMetadata, LayerOutcome, Problem

LAYER_SCHEMA = "imgscan/layer-cache/v2"
IMAGE_SCHEMA = "imgscan/image-cache/v2"


@dataclass(frozen=True)
class CachedLayer:
    """What a daemon image's fully cached answer needs of one layer, and where its result is stored."""

    index: int
    digest: str | None
    diff_id: str | None
    media_type: str
    history_index: int | None
    blob_digest: str  # the sha256 of the stored bytes the layer result was computed on


@dataclass(frozen=True)
class CachedImage:
    """A daemon image's own part of a scan: identity, layers, problems and its metadata scan."""

    image_id: str
    digest: str | None
    platform: str | None
    repo_tags: tuple[str, ...]
    layers: tuple[CachedLayer, ...]
    problems: tuple[Problem, ...]
    meta: ImageMetadata


class ScanCache:
    """Results of fully read layers and of daemon images' metadata; redacted excerpts and fingerprints only.

    Every entry sits under the settings key (scanner.settings.Settings.cache_key): a result is never used
    with settings it was not computed with. Layer results are named by the sha256 of the stored bytes they
    were computed on; the caller looks one up only by a digest it computed or a source enforces, never by a
    digest the image declares. Anything unreadable, foreign or malformed is ignored (the layer is scanned
    again), so a corrupt or planted cache file can cost time but never change a verdict.
    """

    def __init__(self, location: Path | str, settings_key: str) -> None:
        self.files = _Files.at(location)
        self.settings_key = settings_key

    def get_layer(self, blob_digest: str) -> LayerOutcome | None:
        outcome = self._get("layers", LAYER_SCHEMA, blob_digest, LayerOutcome)
        if outcome is None or not outcome.summary.complete or outcome.summary.blob_digest != blob_digest:
            return None
        outcome.cached = True
        return outcome

    def may_have_layer(self, blob_digest: str) -> bool:
        """Whether an entry is stored under this name (cheap: no read, no decoding, no trust)."""
        return self.files.exists(self._path("layers", blob_digest))

    def put_layer(self, outcome: LayerOutcome) -> None:
        """Remember a layer read in full, under the digest of the bytes it was computed on."""
        s = outcome.summary
        if s.complete and s.blob_digest and not any(p.inconclusive for p in s.problems):
            self._put("layers", LAYER_SCHEMA, s.blob_digest, dataclasses.replace(outcome, cached=False))

    def get_image(self, image_id: str) -> CachedImage | None:
        entry = self._get("images", IMAGE_SCHEMA, image_id, CachedImage)
        return entry if entry is not None and entry.image_id == image_id else None

    def put_image(self, entry: CachedImage) -> None:
        self._put("images", IMAGE_SCHEMA, entry.image_id, entry)

    def _path(self, kind: str, name: str) -> str:
        key = hashlib.sha256(f"{self.settings_key}\n{kind}\n{name}".encode()).hexdigest()
        return f"{kind}/{key[:2]}/{key}.json"

    def _get(self, kind: str, schema: str, name: str, cls: type[_T]) -> _T | None:
        try:
            entry = json.loads(self.files.read(self._path(kind, name)))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("schema") != schema or entry.get("name") != name:
            return None
        if entry.get("settings_key") != self.settings_key:
            return None
        try:
            value: _T = decode(cls, entry.get("value"))
        except (ValueError, TypeError, KeyError):
            return None
        return value

    def _put(self, kind: str, schema: str, name: str, value: object) -> None:
        entry = {"schema": schema, "settings_key": self.settings_key, "name": name, "value": encode(value)}
        try:
            self.files.write(self._path(kind, name), json.dumps(entry, separators=(",", ":")).encode())
        except OSError:
            return  # a read-only or full store slows later scans, nothing more


class _Files:
    """Where entries live: a local directory (temp file, then rename), or any fsspec URL (a temporary name,
    then a move: an object store's put is atomic itself). Readers verify every entry, so a torn or planted
    one costs a scan, never a verdict."""

    def __init__(self, root: Path, fs: Any = None, prefix: str = "") -> None:
        self.root, self.fs, self.prefix = root, fs, prefix

    @classmethod
    def at(cls, location: Path | str) -> _Files:
        text = str(location)
        if "://" not in text or text.startswith("file://"):
            return cls(Path(text.removeprefix("file://")))
        import fsspec

        try:
            fs, prefix = fsspec.core.url_to_fs(text)
        except (ImportError, ValueError) as exc:
            raise UsageError(f"cannot use the store {text}: {' '.join(str(exc).split())}") from None
        return cls(Path(), fs, prefix.rstrip("/"))

    def read(self, name: str) -> bytes:
        if self.fs is None:
            return (self.root / name).read_bytes()
        try:
            data: bytes = self.fs.cat_file(f"{self.prefix}/{name}")
        except FileNotFoundError:
            raise
        except Exception as exc:  # fsspec back ends raise their own errors: a miss, not a crash
            raise OSError(type(exc).__name__) from None
        return data

    def exists(self, name: str) -> bool:
        if self.fs is None:
            return (self.root / name).is_file()
        try:
            return bool(self.fs.exists(f"{self.prefix}/{name}"))
        except Exception:
            return False

    def write(self, name: str, data: bytes) -> None:
        if self.fs is None:
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
            return
        final = f"{self.prefix}/{name}"
        tmp = f"{self.prefix}/.tmp/{os.getpid()}-{os.urandom(8).hex()}"
        try:
            self.fs.pipe_file(tmp, data)
            self.fs.mv(tmp, final)
        except Exception as exc:
            raise OSError(type(exc).__name__) from None


_T = typing.TypeVar("_T")

# --- one codec for every record: dataclasses by their type hints ---------------------------------


class _ArrayHint:
    """Stands in for `array[int]` in type hints (array is not subscriptable at run time on 3.11)."""

    def __class_getitem__(cls, item: object) -> type[_ArrayHint]:
        return cls


def encode(value: object) -> Any:
    """A record as JSON-ready data: dataclasses by field, enums by name, arrays as typecode:base64."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, array):
        return f"{value.typecode}:{base64.b64encode(value.tobytes()).decode()}"
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float):
        return value
    raise TypeError(f"cannot encode {type(value).__name__}")


def decode(tp: Any, data: Any) -> Any:
    """The inverse of encode(), checked against the type hints: anything else raises ValueError/TypeError."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return decode(inner, data)
    if tp is _ArrayHint:
        typecode, _, b64 = _expect(data, str).partition(":")
        out = array(typecode)
        out.frombytes(base64.b64decode(b64, validate=True))
        return out
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        raw = _expect(data, dict)
        names, hints = _fields(tp)
        if set(raw) != set(names):
            raise ValueError(f"fields of {tp.__name__} differ")
        return tp(**{n: decode(hints[n], raw[n]) for n in names})
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp[_expect(data, str)]
    if origin is list:
        return [decode(args[0], v) for v in _expect(data, list)]
    if origin is tuple:
        items = _expect(data, list)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v) for v in items)
        if len(items) != len(args):
            raise ValueError("tuple length differs")
        return tuple(decode(a, v) for a, v in zip(args, items, strict=True))
    if origin is dict:
        return {decode(args[0], _key(args[0], k)): decode(args[1], v) for k, v in _expect(data, dict).items()}
    if tp is bool:
        return _expect(data, bool)
    if tp in (int, float, str):
        if isinstance(data, bool) or not isinstance(data, tp):
            raise TypeError(f"expected {tp.__name__}")
        return data
    raise TypeError(f"cannot decode {tp!r}")


@functools.cache
def _fields(tp: type) -> tuple[list[str], dict[str, Any]]:
    """A record's field names and resolved type hints, worked out once per class."""
    hints = typing.get_type_hints(tp, localns={"array": _ArrayHint})
    return [f.name for f in dataclasses.fields(tp)], hints


def _key(tp: Any, key: str) -> Any:
    return int(key) if tp is int else key


def _expect(data: Any, tp: type[_T]) -> _T:
    if not isinstance(data, tp):
        raise TypeError(f"expected {tp.__name__}")
    return data
