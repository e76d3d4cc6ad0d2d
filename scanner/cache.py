"""Layer results on disk, keyed by diff_id, ruleset hash, known-secret fingerprints and limits; JSON only."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from array import array
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scanner.findings import Severity, keyed_fingerprint
from scanner.image import Layer, Problem
from scanner.walk import LayerSummary

if TYPE_CHECKING:
    from scanner.scan import Hit, LayerOutcome

SCHEMA = "imgscan/layer-cache/v1"
_HASH_CHUNK = 1 << 20


class LayerCache:
    """Results of fully read layers. Entries hold redacted excerpts and fingerprints only, never a secret.

    Anything unreadable, foreign or of another key is ignored (the layer is scanned again), so a corrupt
    or planted cache file can cost time but never change a verdict: a hit is used only after the layer's
    bytes on disk hash to the digest the entry was stored under.
    """

    def __init__(
        self, directory: Path, ruleset_hash: str, known_fingerprints: tuple[str, ...], limits: str
    ) -> None:
        self.directory = directory / "layers"
        # The fingerprint key takes part: hits carry keyed fingerprints that must match this run's key.
        self._salt = "\n".join(
            [SCHEMA, ruleset_hash, *sorted(known_fingerprints), limits, keyed_fingerprint("cache")]
        )

    def _path(self, diff_id: str) -> Path:
        key = hashlib.sha256(f"{self._salt}\n{diff_id}".encode()).hexdigest()
        return self.directory / key[:2] / f"{key}.json"

    def get(self, layer: Layer, verify: bool = True) -> LayerOutcome | None:
        if not layer.diff_id:
            return None
        path = self._path(layer.diff_id)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            outcome = _decode(entry, layer.diff_id)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        if outcome is None:
            return None
        if verify and not _blob_matches(layer):
            return None
        return outcome

    def put(self, layer: Layer, outcome: LayerOutcome) -> None:
        s = outcome.summary
        # Only a layer read in full whose bytes are the ones its diff_id names may answer for it later.
        if not layer.diff_id or not s.complete or s.diff_id != layer.diff_id:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self._path(layer.diff_id)
            path.parent.mkdir(exist_ok=True)
            data = json.dumps(_encode(outcome, layer.diff_id), separators=(",", ":"))
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except OSError:
            return  # a read-only or full cache directory slows later scans, nothing more


def _blob_matches(layer: Layer) -> bool:
    """Hash the stored blob (cheaper than scanning it) and compare with the digest that names it."""
    if layer.blob is None:
        return False
    expected = layer.digest if layer.digest_is_compressed else layer.diff_id
    if not expected:
        return False
    h = hashlib.sha256()
    try:
        with open(layer.blob.path, "rb") as fh:
            fh.seek(layer.blob.offset)
            left = layer.blob.size
            while left > 0:
                chunk = fh.read(min(_HASH_CHUNK, left))
                if not chunk:
                    return False
                h.update(chunk)
                left -= len(chunk)
    except OSError:
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
    from scanner.scan import Hit, LayerOutcome

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
