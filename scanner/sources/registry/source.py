"""docker://: a registry image read as an OCI layout whose small documents are fetched and layers streamed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.blob import BlobLocation
from scanner.errors import FormatError, SourceError
from scanner.image import Image, Platform, is_sha256_digest
from scanner.sources.images import select_images
from scanner.sources.interface import OnBlob, Source
from scanner.sources.interface import Reference as SourceReference
from scanner.sources.manifests import (
    INDEX_TYPES,
    JSON_CAP,
    MANIFEST_TYPES,
    MT_DOCKER_LIST,
    MT_DOCKER_MANIFEST,
    MT_OCI_INDEX,
    MT_OCI_MANIFEST,
    JsonReader,
)
from scanner.sources.oci import OciReader
from scanner.sources.registry.blob import RegistryBlob
from scanner.sources.registry.client import RegistryClient
from scanner.sources.registry.options import RegistryOptions
from scanner.sources.registry.reference import TRANSPORT, Reference, parse_reference

FORMAT = "registry"
MANIFEST_ACCEPT = ", ".join([MT_OCI_INDEX, MT_DOCKER_LIST, MT_OCI_MANIFEST, MT_DOCKER_MANIFEST])
_MAX_DOCUMENTS = 512
_MAX_DEPTH = 4


@dataclass
class RegistrySource:
    """The Source for skopeo's `docker://` transport; the location is HOST[:PORT]/REPO[:TAG|@DIGEST]."""

    options: RegistryOptions = field(default_factory=RegistryOptions)
    transports: tuple[str, ...] = ("docker",)

    def open(
        self, ref: SourceReference, workdir: Path, platform: Platform | None, on_blob: OnBlob | None
    ) -> list[Image]:
        images = open_registry(TRANSPORT + ref.location, workdir, self.options)
        return select_images(images, ref.text, platform=platform)

    def identity(self, ref: SourceReference) -> str | None:
        # Layers answered by the cache already cost no download; the image cache keys on config ids.
        return None


_: type[Source] = RegistrySource


def open_registry(ref: str, workdir: Path, options: RegistryOptions) -> list[Image]:
    """Every image (platform) the reference names, with its attestations; layers are opened lazily."""
    reference = parse_reference(ref)
    store = RegistryStore(RegistryClient(reference, options, workdir), workdir)
    store.fetch_documents()
    return OciReader(JsonReader(store), ref, FORMAT).read()


class RegistryStore:
    """The BlobStore the OCI reader walks: manifests, indexes, configs and attestations fetched up front
    (small, each checked against its digest), every other blob a RegistryBlob that downloads when opened."""

    container = "registry"

    def __init__(self, client: RegistryClient, workdir: Path) -> None:
        self.client = client
        self.ref: Reference = client.ref
        self.label = str(client.ref)
        self.dir = workdir / "registry"
        self.documents: dict[str, BlobLocation] = {}
        self.layers: dict[str, int | None] = {}
        self._header_digest = ""

    def fetch_documents(self) -> None:
        """The top manifest or index and everything small under it; layer blobs are only listed."""
        self.dir.mkdir(parents=True, exist_ok=True)
        raw, media_type, digest = self._manifest(self.ref.manifest_ref, self.ref.digest)
        if self.ref.digest is None:
            self._check_header_digest(raw, digest)
        self._manifest_tree(raw, media_type, digest, depth=0)
        top = {"mediaType": media_type, "digest": digest, "size": len(raw)}
        top["annotations"] = {"org.opencontainers.image.ref.name": self._name()}
        self._write("index.json", json.dumps({"schemaVersion": 2, "manifests": [top]}).encode())

    def _name(self) -> str:
        tag = f":{self.ref.tag}" if self.ref.tag else ""
        return f"{self.ref.host}/{self.ref.repository}{tag}"

    def _manifest_tree(self, raw: bytes, media_type: str, digest: str, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise FormatError(f"{self.label}: image indexes nested deeper than {_MAX_DEPTH} levels")
        self._keep(digest, raw)
        data = _json_object(raw, f"{self.label}: manifest {digest[:19]}")
        if media_type in INDEX_TYPES or "manifests" in data:
            for desc in data.get("manifests") or []:
                child = desc.get("digest") if isinstance(desc, dict) else None
                if not isinstance(child, str) or not is_sha256_digest(child):
                    raise FormatError(
                        f"{self.label}: index {digest[:19]} lists a descriptor without a sha256 digest"
                    )
                if child in self.documents:
                    continue
                child_raw, child_type, _ = self._manifest(child, child)
                self._manifest_tree(child_raw, child_type, child, depth + 1)
            return
        config = data.get("config")
        if isinstance(config, dict) and is_sha256_digest(config.get("digest")):
            self._small_blob(config["digest"])
        for desc in data.get("layers") or []:
            if not isinstance(desc, dict) or not is_sha256_digest(desc.get("digest")):
                continue
            size = desc.get("size") if isinstance(desc.get("size"), int) else None
            if str(desc.get("mediaType", "")).startswith("application/vnd.in-toto"):
                self._small_blob(desc["digest"])
            else:
                self.layers.setdefault(desc["digest"], size)

    def _manifest(self, ref: str, digest: str | None) -> tuple[bytes, str, str]:
        if len(self.documents) >= _MAX_DOCUMENTS:
            raise FormatError(f"{self.label}: more than {_MAX_DOCUMENTS} manifests and configs")
        response = self.client.get(f"manifests/{ref}", f"manifest {ref[:19]}", accept=MANIFEST_ACCEPT)
        with response:
            raw = _read_capped(response, f"{self.label}: manifest {ref[:19]}")
            header_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            self._header_digest = response.headers.get("Docker-Content-Digest", "")
        actual = "sha256:" + hashlib.sha256(raw).hexdigest()
        if digest is not None and actual != digest:
            raise FormatError(
                f"{self.label}: manifest {digest[:19]} sent by the registry does not match its digest"
            )
        data = _json_object(raw, f"{self.label}: manifest {ref[:19]}")
        declared = data.get("mediaType")
        media_type = declared if isinstance(declared, str) else header_type
        if media_type not in INDEX_TYPES and media_type not in MANIFEST_TYPES:
            media_type = MT_OCI_INDEX if "manifests" in data else MT_OCI_MANIFEST
        return raw, media_type, actual

    def _check_header_digest(self, raw: bytes, digest: str) -> None:
        """By tag, the registry's Docker-Content-Digest (when sha256) must be what the bytes hash to."""
        header = self._header_digest
        if is_sha256_digest(header) and header != digest:
            raise FormatError(
                f"{self.label}: manifest hashes to {digest[:19]}, the registry says {header[:19]}"
            )

    def _small_blob(self, digest: str) -> None:
        if digest in self.documents:
            return
        response = self.client.get(f"blobs/{digest}", f"blob {digest[:19]}")
        with response:
            raw = _read_capped(response, f"{self.label}: blob {digest[:19]}")
        if "sha256:" + hashlib.sha256(raw).hexdigest() != digest:
            raise FormatError(
                f"{self.label}: blob {digest[:19]} sent by the registry does not match its digest"
            )
        self._keep(digest, raw)

    def _keep(self, digest: str, raw: bytes) -> None:
        self.documents[digest] = self._write(digest.replace(":", "-"), raw)

    def _write(self, name: str, raw: bytes) -> BlobLocation:
        path = self.dir / name
        path.write_bytes(raw)
        loc = BlobLocation(str(path), 0, len(raw))
        if name == "index.json":
            self.documents[name] = loc
        return loc

    # -- the BlobStore protocol ------------------------------------------------------------------------

    def locate(self, name: str) -> BlobLocation | RegistryBlob | None:
        if name == "index.json":
            return self.documents.get(name)
        digest = "sha256:" + name.removeprefix("blobs/sha256/")
        if digest in self.documents:
            return self.documents[digest]
        if digest in self.layers:
            return RegistryBlob(self.client, digest, self.layers[digest])
        return None

    def names(self) -> Iterable[str]:
        return ()

    def link_target(self, name: str) -> str | None:
        return None


def _read_capped(response: Any, what: str) -> bytes:
    try:
        raw: bytes = response.raw.read(JSON_CAP + 1, decode_content=False)
    except (OSError, ValueError) as exc:
        raise SourceError(f"{what}: download broke off ({type(exc).__name__})") from None
    if len(raw) > JSON_CAP:
        raise FormatError(f"{what} is over the {JSON_CAP >> 20} MiB limit for a manifest or config")
    return raw


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise FormatError(f"{what} is not a JSON object")
    return data
