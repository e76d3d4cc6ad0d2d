"""OCI archives and layouts (also inside Docker >= 25 saves): index tree, manifests, attestations."""

from __future__ import annotations

import gzip
import io
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from scanner.errors import FormatError
from scanner.image import Image, Layer, MetadataDocument, Platform, is_sha256_digest
from scanner.model import Problem
from scanner.sniff import GZIP_MAGIC
from scanner.sources.config import ImageHead, assemble, config_problems, diff_id_problems
from scanner.sources.manifests import (
    ANN_CONTAINERD_NAME,
    ANN_OCI_REF_NAME,
    ANN_REF_DIGEST,
    ANN_REF_TYPE,
    FOREIGN_TYPES,
    INDEX_TYPES,
    JSON_CAP,
    LAYER_TYPES,
    MANIFEST_TYPES,
    MAX_ENTRIES,
    MAX_IMAGES,
    MAX_INDEX_DEPTH,
    MAX_LAYERS,
    MT_OCI_INDEX,
    MT_OCI_MANIFEST,
    JsonReader,
    blob_name,
    dict_of,
    one_line,
    platform_of,
    read_location,
    sha256_digest,
)


@dataclass
class _Candidate:
    """An image manifest found while walking the index tree, with what the tree says about it."""

    descriptor: dict[str, Any]
    platform: Platform | None
    tags: list[str]
    indexes: list[MetadataDocument]
    notes: list[Problem] = field(default_factory=list)


class OciReader:
    """Every image an index.json tree names; attestations become metadata of the image they attest."""

    def __init__(self, reader: JsonReader, reference: str, fmt: str) -> None:
        self.reader = reader
        self.store = reader.store
        self.label = reader.store.label
        self.reference = reference
        self.fmt = fmt
        self.candidates: dict[str, _Candidate] = {}
        self.attestations: list[dict[str, Any]] = []
        self.absent: list[str] = []
        self.descriptors = 0

    def read(self) -> list[Image]:
        index, raw = self.reader.fatal("index.json", "index")
        self._walk(index, raw, "index.json", [], [], depth=0)
        attested = [(desc, *self._attestation(desc)) for desc in self.attestations]
        images = [self._image(c) for c in self.candidates.values()]
        by_digest = {i.digest: i for i in images}
        for desc, docs, problems, subject in attested:
            target = by_digest.get(subject)
            if desc["digest"] in by_digest:
                continue  # labelled an attestation, but it is a runnable image: scanned as one
            if docs is None and target is None:
                # Of a platform the save left out (its image is absent too), like an absent manifest.
                self.absent.append(
                    f"index lists attestation {desc['digest'][:19]} whose blob is not in the source"
                )
                continue
            if target is None:
                attests = (
                    f"attests {subject[:19]}, which is" if subject else "names no image it attests, or one"
                )
                problems.append(
                    Problem(
                        f"attestation {desc['digest'][:19]}",
                        f"{attests} not in the source; scanned as metadata of every image",
                        False,
                    )
                )
            for image in [target] if target is not None else images:
                image.metadata = (*image.metadata, *(docs or []))
                image.problems += problems
        for image in images:
            image.problems += [Problem("index.json", a, False) for a in self.absent]
        return images

    def _walk(
        self, index: Any, raw: bytes, where: str, tags: list[str], chain: list[MetadataDocument], depth: int
    ) -> None:
        if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
            raise FormatError(f"{self.label}: {where} is not an image index (no manifests list)")
        if depth > MAX_INDEX_DEPTH:
            raise FormatError(
                f"{self.label}: {where}: image indexes nested deeper than {MAX_INDEX_DEPTH} levels"
            )
        self.descriptors += len(index["manifests"])
        if self.descriptors > MAX_ENTRIES:
            raise FormatError(f"{self.label}: the indexes list over {MAX_ENTRIES} manifests")
        chain = [*chain, MetadataDocument("index", where, index, raw)]
        for desc in index["manifests"]:
            if not isinstance(desc, dict) or not is_sha256_digest(desc.get("digest")):
                raise FormatError(f"{self.label}: {where} lists a descriptor without a sha256 digest")
            annotations = dict_of(desc.get("annotations"))
            if annotations.get(ANN_REF_TYPE) == "attestation-manifest":
                self.attestations.append(desc)
                continue
            self._descriptor(desc, where, tags + _tags_of(annotations), chain, depth)

    def _descriptor(
        self, desc: dict[str, Any], where: str, tags: list[str], chain: list[MetadataDocument], depth: int
    ) -> None:
        digest: str = desc["digest"]
        platform = platform_of(desc.get("platform"))
        if self.store.locate(blob_name(digest) or "") is None:
            self.absent.append(
                f"index lists {platform or 'a manifest'} ({digest[:19]}) whose blob is not in the source; "
                "not scanned"
            )
            return
        media_type = desc.get("mediaType")
        if media_type is None:
            # Optional in a descriptor: the blob's own mediaType or shape says what it is.
            data = dict_of(self.reader.blob(digest, "manifest")[0])
            media_type = data.get("mediaType") or (MT_OCI_INDEX if "manifests" in data else MT_OCI_MANIFEST)
        if media_type in INDEX_TYPES:
            data, raw = self.reader.blob(digest, "index")
            if sha256_digest(raw) != digest:
                raise FormatError(f"{self.label}: index {digest[:19]} content does not match its digest")
            self._walk(data, raw, f"index {digest[:19]}", tags, chain, depth + 1)
        elif media_type in MANIFEST_TYPES:
            known = self.candidates.get(digest)
            if known is not None:
                known.tags += [t for t in tags if t not in known.tags]
                return
            if len(self.candidates) >= MAX_IMAGES:
                raise FormatError(f"{self.label}: the index names over {MAX_IMAGES} images")
            self.candidates[digest] = _Candidate(desc, platform, tags, chain)
        else:
            raise FormatError(f"{self.label}: {where} lists unsupported media type {media_type}")

    def _image(self, cand: _Candidate) -> Image:
        label, desc = self.label, cand.descriptor
        digest: str = desc["digest"]
        manifest, raw = self.reader.blob(digest, "manifest")
        problems: list[Problem] = list(cand.notes)
        if sha256_digest(raw) != digest:
            problems.append(Problem(f"manifest {digest[:19]}", "manifest content does not match its digest"))
        if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
            raise FormatError(f"{label}: manifest {digest[:19]} has no config descriptor")
        if manifest.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
            raise FormatError(f"{label}: manifest {digest[:19]} is an index but is listed as a manifest")
        config_digest = manifest["config"].get("digest")
        if not is_sha256_digest(config_digest):
            raise FormatError(f"{label}: manifest {digest[:19]} names no sha256 config digest")
        config, raw_config = self.reader.blob(config_digest, "config")
        config, diff_ids, config_problems_ = config_problems(config, f"{label}: config {config_digest[:19]}")
        problems += config_problems_
        image_id = sha256_digest(raw_config)
        if image_id != config_digest:
            problems.append(
                Problem(
                    f"config {config_digest[:19]}", f"config content hashes to {image_id}, not its digest"
                )
            )
        layer_descs = manifest.get("layers")
        if not isinstance(layer_descs, list):
            raise FormatError(f"{label}: manifest {digest[:19]} has no layers list")
        if len(layer_descs) > MAX_LAYERS:
            raise FormatError(
                f"{label}: manifest {digest[:19]} has {len(layer_descs)} layers, over {MAX_LAYERS}"
            )
        problems += diff_id_problems(len(layer_descs), diff_ids)
        layers = [
            self._layer(i, d, diff_ids[i] if i < len(diff_ids) else None, problems)
            for i, d in enumerate(layer_descs)
        ]
        metadata = [
            *cand.indexes,
            MetadataDocument("manifest", f"manifest {digest[:19]}", manifest, raw),
            self.reader.document("config", f"config {config_digest[:19]}", blob_name(config_digest) or ""),
        ]
        platform = cand.platform or platform_of(config)
        head = ImageHead(self.reference, config_digest, digest, platform, self.fmt, tuple(cand.tags))
        return assemble(head, config, layers, metadata, problems)

    def _layer(self, i: int, desc: Any, diff_id: str | None, problems: list[Problem]) -> Layer:
        where = f"layer {i}"
        if not isinstance(desc, dict) or not is_sha256_digest(desc.get("digest")):
            problems.append(Problem(where, "layer descriptor has no sha256 digest; layer not read"))
            return Layer(i, None, diff_id, "", None, None)
        digest: str = desc["digest"]
        media_type = desc["mediaType"] if isinstance(desc.get("mediaType"), str) else ""
        loc = self.store.locate(blob_name(digest) or "")
        foreign = media_type in FOREIGN_TYPES or bool(desc.get("urls"))
        if foreign and loc is None:
            problems.append(Problem(where, f"foreign layer {digest[:19]} is not in the source; not scanned"))
        elif foreign:
            problems.append(
                Problem(where, "foreign (non-distributable) layer; its blob is present and scanned", False)
            )
        elif loc is None:
            problems.append(Problem(where, f"layer blob {digest[:19]} is missing from the source"))
        elif media_type not in LAYER_TYPES:
            problems.append(
                Problem(where, f"unknown media type {media_type or '(none)'}; read as a tar by magic")
            )
        declared = desc.get("size")
        if loc is not None and isinstance(declared, int) and declared != loc.size:
            problems.append(Problem(where, f"blob is {loc.size} bytes but the manifest says {declared}"))
        return Layer(
            index=i,
            digest=digest,
            diff_id=diff_id,
            media_type=media_type,
            size=loc.size if loc else declared if isinstance(declared, int) else None,
            blob=loc,
            foreign=foreign,
            digest_is_compressed=digest != diff_id,
        )

    def _attestation(
        self, desc: dict[str, Any]
    ) -> tuple[list[MetadataDocument] | None, list[Problem], str | None]:
        """An attestation manifest's documents (None when its blob is absent), problems and subject; one
        that carries image layers is made an image candidate instead (scanned as an image, and said so)."""
        digest: str = desc["digest"]
        where = f"attestation {digest[:19]}"
        subject = dict_of(desc.get("annotations")).get(ANN_REF_DIGEST)
        subject = subject if isinstance(subject, str) else None
        loc = self.store.locate(blob_name(digest) or "")
        if loc is None:
            return None, [Problem(where, "attestation manifest is missing from the source")], subject
        try:
            raw = read_location(loc)
            manifest = json.loads(raw)
        except (OSError, ValueError, RecursionError) as exc:
            return [], [Problem(where, f"attestation manifest not read: {one_line(exc)}")], subject
        if not isinstance(manifest, dict):
            return [], [Problem(where, "attestation manifest is not a JSON object")], subject
        layers: list[Any] = manifest["layers"] if isinstance(manifest.get("layers"), list) else []
        if any(dict_of(d).get("mediaType") in LAYER_TYPES | FOREIGN_TYPES for d in layers):
            note = Problem(
                where, "labelled an attestation but carries image layers; scanned as an image", False
            )
            self._descriptor(desc, "index.json", [], [], 0)
            if digest in self.candidates:
                self.candidates[digest].notes.append(note)
            return [], [], subject
        if subject is None:
            subject = dict_of(manifest.get("subject")).get("digest")
            subject = subject if isinstance(subject, str) else None
        docs = [MetadataDocument("manifest", f"attestation manifest {digest[:19]}", manifest, raw)]
        problems: list[Problem] = []
        for layer in layers:
            docs += self._attestation_layer(layer, problems)
        return docs, problems, subject

    def _attestation_layer(self, desc: Any, problems: list[Problem]) -> list[MetadataDocument]:
        layer_digest = desc.get("digest") if isinstance(desc, dict) else None
        if not isinstance(layer_digest, str):
            problems.append(Problem("attestation", "attestation layer without a digest"))
            return []
        where = f"attestation {layer_digest[:19]}"
        predicate = dict_of(desc.get("annotations")).get("in-toto.io/predicate-type")
        loc = self.store.locate(blob_name(layer_digest) or "")
        if loc is None:
            problems.append(Problem(where, "attestation blob is missing from the source"))
            return []
        try:
            raw = read_location(loc)
            if raw.startswith(GZIP_MAGIC):
                raw = _gunzip_capped(raw)
            data = json.loads(raw)
        except (OSError, ValueError, EOFError, zlib.error, RecursionError) as exc:
            problems.append(Problem(where, f"attestation not read: {one_line(exc)}"))
            return []
        if predicate is None and isinstance(data, dict):
            predicate = data.get("predicateType")
        return [MetadataDocument("attestation", f"{where} ({predicate or 'unknown predicate'})", data, raw)]


def _tags_of(annotations: dict[str, Any]) -> list[str]:
    # containerd's full name beats the OCI ref name, which is often only a tag ("latest").
    for key in (ANN_CONTAINERD_NAME, ANN_OCI_REF_NAME):
        value = annotations.get(key)
        if isinstance(value, str) and value:
            return [value]
    return []


def _gunzip_capped(raw: bytes) -> bytes:
    with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
        out = f.read(JSON_CAP + 1)
    if len(out) > JSON_CAP:
        raise ValueError(f"decompressed over the {JSON_CAP >> 20} MiB limit")
    return out
