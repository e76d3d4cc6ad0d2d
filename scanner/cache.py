"""Scan results on disk per layer (by diff_id) and per daemon image (by id), for one ruleset; JSON only."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from array import array
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scanner.errors import LayerError
from scanner.findings import Finding, Location, Severity, keyed_fingerprint
from scanner.image import HistoryEntry, Image, Layer, Platform
from scanner.model import Hit, ImageMetadata, LayerOutcome, LayerSummary, Problem

SCHEMA = "imgscan/layer-cache/v1"
IMAGE_SCHEMA = "imgscan/image-cache/v1"
_HASH_CHUNK = 1 << 20


class ScanCache:
    """Results of fully read layers and of daemon images' metadata; redacted excerpts and fingerprints only.

    Anything unreadable, foreign or of another key is ignored (the layer is scanned again), so a corrupt
    or planted cache file can cost time but never change a verdict. A layer hit from an archive is used
    only after the layer's bytes on disk hash to the digest it was stored under; a daemon image's layers
    are trusted by the diff_ids the daemon's content store reports.
    """

    def __init__(
        self, directory: Path, ruleset_hash: str, known_fingerprints: tuple[str, ...], limits: str
    ) -> None:
        self.directory = directory
        # The fingerprint key takes part: hits carry keyed fingerprints that must match this run's key.
        parts = [SCHEMA, ruleset_hash, *sorted(known_fingerprints), limits, keyed_fingerprint("cache")]
        self._salt = "\n".join(parts)

    def _path(self, kind: str, name: str) -> Path:
        key = hashlib.sha256(f"{self._salt}\n{kind}\n{name}".encode()).hexdigest()
        return self.directory / kind / key[:2] / f"{key}.json"

    def _load(self, kind: str, name: str) -> Any:
        try:
            return json.loads(self._path(kind, name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _store(self, kind: str, name: str, entry: dict[str, Any]) -> None:
        path = self._path(kind, name)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(entry, separators=(",", ":")))
            os.replace(tmp, path)
        except OSError:
            return  # a read-only or full cache directory slows later scans, nothing more

    def get(self, layer: Layer, verify: bool = True) -> LayerOutcome | None:
        if not layer.diff_id:
            return None
        try:
            outcome = _decode(self._load("layers", layer.diff_id), layer.diff_id)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        if outcome is None:
            return None
        if verify and not _blob_matches(layer, outcome):
            return None
        return outcome

    def put(self, layer: Layer, outcome: LayerOutcome) -> None:
        s = outcome.summary
        # Only a layer read in full whose bytes are the ones its diff_id names may answer for it later.
        if not layer.diff_id or not s.complete or s.diff_id != layer.diff_id:
            return
        self._store("layers", layer.diff_id, _encode(outcome, layer.diff_id))

    def get_image(self, image_id: str, reference: str) -> tuple[Image, ImageMetadata] | None:
        try:
            return _decode_image(self._load("images", image_id), image_id, reference)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def put_image(self, image: Image, meta: ImageMetadata, outcomes: list[LayerOutcome]) -> None:
        """Remember a daemon image's metadata results, if every part of it was read in full."""
        if any(p.inconclusive for p in image.problems) or not all(o.summary.complete for o in outcomes):
            return
        if any(layer.diff_id is None for layer in image.layers):
            return
        entry = {
            "schema": IMAGE_SCHEMA,
            "image_id": image.id,
            "digest": image.digest,
            "platform": str(image.platform) if image.platform else None,
            "repo_tags": list(image.repo_tags),
            "layers": [
                {
                    "index": layer.index,
                    "digest": layer.digest,
                    "diff_id": layer.diff_id,
                    "media_type": layer.media_type,
                    "history_index": layer.history.index if layer.history else None,
                }
                for layer in image.layers
            ],
            "problems": [asdict(p) for p in image.problems],
            "findings": [_finding_dict(f) for f in meta.findings],
            "areas": meta.areas,
            "created_by": {str(k): v for k, v in meta.created_by.items()},
        }
        self._store("images", image.id, entry)


def _blob_matches(layer: Layer, outcome: LayerOutcome) -> bool:
    """Hash the stored blob (cheaper than scanning it) and compare with the digest that names it."""
    if layer.blob is None:
        return False
    trusted = layer.blob.trusted_digest
    if trusted is not None:
        # The source enforces this digest when read (a registry blob): no download, but the entry must
        # have been computed on exactly these stored bytes.
        return trusted == layer.digest and outcome.summary.blob_digest == trusted
    expected = layer.digest if layer.digest_is_compressed else layer.diff_id
    if not expected:
        return False
    h = hashlib.sha256()
    try:
        with layer.open_blob() as fh:
            while chunk := fh.read(_HASH_CHUNK):
                h.update(chunk)
    except LayerError:
        return False
    return "sha256:" + h.hexdigest() == expected


def _encode(outcome: LayerOutcome, diff_id: str) -> dict[str, Any]:
    s = outcome.summary
    return {
        "schema": SCHEMA,
        "diff_id": diff_id,
        "summary": {
            "files": s.files,
            "nested_files": s.nested_files,
            "bytes": s.bytes,
            "nested_archives": s.nested_archives,
            "whiteouts": s.whiteouts,
            "opaque_dirs": s.opaque_dirs,
            "paths": base64.b64encode(s.paths.tobytes()).decode(),
            "nondir_paths": base64.b64encode(s.nondir_paths.tobytes()).decode(),
            "diff_id": s.diff_id,
            "blob_digest": s.blob_digest,
            "compression": s.compression,
            "problems": [asdict(p) for p in s.problems],
        },
        "hits": [
            {**asdict(h), "severity": h.severity.label if h.severity is not None else None}
            for h in outcome.hits
        ],
        "packaged": outcome.packaged,
    }


def _decode(entry: Any, diff_id: str) -> LayerOutcome | None:

    if not isinstance(entry, dict) or entry.get("schema") != SCHEMA or entry.get("diff_id") != diff_id:
        return None
    raw = entry["summary"]
    paths, nondir = array("Q"), array("Q")
    paths.frombytes(base64.b64decode(raw["paths"], validate=True))
    nondir.frombytes(base64.b64decode(raw["nondir_paths"], validate=True))
    summary = LayerSummary(
        files=int(raw["files"]),
        nested_files=int(raw["nested_files"]),
        bytes=int(raw["bytes"]),
        nested_archives=int(raw["nested_archives"]),
        whiteouts=[str(w) for w in raw["whiteouts"]],
        opaque_dirs=[str(d) for d in raw["opaque_dirs"]],
        paths=paths,
        nondir_paths=nondir,
        diff_id=str(raw["diff_id"]),
        blob_digest=str(raw["blob_digest"]),
        compression=str(raw["compression"]),
        problems=[Problem(str(p["where"]), str(p["what"]), bool(p["inconclusive"])) for p in raw["problems"]],
        complete=True,
    )
    hits: list[Hit] = []
    for h in entry["hits"]:
        sev = h.pop("severity")
        hits.append(Hit(severity=Severity.parse(sev) if sev else None, **{k: h[k] for k in _HIT_FIELDS}))
    packaged = {str(k): (str(v[0]), str(v[1]), str(v[2])) for k, v in entry["packaged"].items()}
    return LayerOutcome(summary, hits, packaged, cached=True)


_HIT_FIELDS = (
    "rule", "path", "inner_path", "line", "excerpt", "fingerprint", "note", "known_secret_id", "file_md5",
    "file_sha256",
)  # fmt: skip


def _finding_dict(f: Finding) -> dict[str, Any]:
    return {**asdict(f), "severity": f.severity.label}


def _finding(raw: dict[str, Any]) -> Finding:
    location = Location(**raw.pop("location"))
    severity = Severity.parse(raw.pop("severity"))
    return Finding(location=location, severity=severity, **raw)


def _decode_image(entry: Any, image_id: str, reference: str) -> tuple[Image, ImageMetadata] | None:

    if (
        not isinstance(entry, dict)
        or entry.get("schema") != IMAGE_SCHEMA
        or entry.get("image_id") != image_id
    ):
        return None
    created_by = {int(k): str(v) for k, v in entry["created_by"].items()}
    layers = []
    for raw in entry["layers"]:
        index, history_index = int(raw["index"]), raw["history_index"]
        history = None
        if history_index is not None:
            history = HistoryEntry(int(history_index), created_by.get(index, ""), False, index)
        layers.append(
            Layer(index, raw["digest"], str(raw["diff_id"]), str(raw["media_type"]), None, None, history)
        )
    platform = Platform.parse(entry["platform"]) if entry["platform"] else None
    image = Image(
        reference=reference,
        id=image_id,
        digest=entry["digest"],
        platform=platform,
        format="daemon",
        config={},
        layers=tuple(layers),
        history=(),
        repo_tags=tuple(str(t) for t in entry["repo_tags"]),
        problems=[
            Problem(str(p["where"]), str(p["what"]), bool(p["inconclusive"])) for p in entry["problems"]
        ],
    )
    meta = ImageMetadata(
        [_finding(dict(f)) for f in entry["findings"]], [str(a) for a in entry["areas"]], created_by
    )
    return image, meta
