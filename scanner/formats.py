"""Format detection and manifest/index/config parsing: a store of named blobs in, Image records out."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import posixpath
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Protocol

from scanner.blob import BlobLocation
from scanner.errors import FormatError, LayerError, SourceError
from scanner.image import (
    GZIP_MAGIC,
    HistoryEntry,
    Image,
    Layer,
    MetadataDocument,
    Platform,
    is_sha256_digest,
    map_history,
)
from scanner.model import Problem

# Manifests, indexes and configs are small; a bigger one is a malformed or hostile image.
JSON_CAP = 16 * 1024 * 1024

MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_LEGACY_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
MT_IN_TOTO = "application/vnd.in-toto+json"
INDEX_TYPES = frozenset({MT_OCI_INDEX, MT_DOCKER_LIST})
MANIFEST_TYPES = frozenset({MT_OCI_MANIFEST, MT_DOCKER_MANIFEST})
LAYER_TYPES = frozenset(
    {
        MT_LEGACY_LAYER,
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.layer.v1.tar+zstd",
    }
)
FOREIGN_TYPES = frozenset(
    {
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    }
)
ANN_REF_TYPE = "vnd.docker.reference.type"
ANN_REF_DIGEST = "vnd.docker.reference.digest"
ANN_CONTAINERD_NAME = "io.containerd.image.name"
ANN_OCI_REF_NAME = "org.opencontainers.image.ref.name"

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class BlobStore(Protocol):
    """Named files of an image source (outer tar members or layout-directory files), located on disk."""

    label: str  # how messages name the source, e.g. the archive path
    container: str  # "archive" or "directory"

    def locate(self, name: str) -> BlobLocation | None:
        """The bytes of a file by its path inside the source (symlinks resolved), or None."""
        ...

    def names(self) -> Iterable[str]:
        """Member names, at least every <id>/layer.tar (used only to find podman's <id>/ folders)."""
        ...

    def link_target(self, name: str) -> str | None:
        """The final name a symlinked member resolves to, or None."""
        ...


def read_location(loc: BlobLocation, cap: int = JSON_CAP) -> bytes:
    """Read a whole (small) blob; raises OSError, or ValueError when it is larger than `cap`."""
    if loc.size > cap:
        raise ValueError(f"{loc.size} bytes, over the {cap >> 20} MiB limit")
    try:
        with loc.open() as f:
            return f.read(loc.size)
    except LayerError as exc:
        raise OSError(str(exc)) from None


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blob_name(digest: str) -> str | None:
    """The OCI layout path of a digest, or None for anything but a well-formed sha256 digest."""
    return "blobs/sha256/" + digest[7:] if is_sha256_digest(digest) else None


def detect_format(store: BlobStore) -> str:
    """Which image format a store holds, by its content (never by producer version)."""
    has_index = store.locate("index.json") is not None
    has_manifest = store.locate("manifest.json") is not None
    if has_index and has_manifest:
        return "docker25-archive"
    if has_index:
        return "oci-archive" if store.container == "archive" else "oci-layout"
    if has_manifest:
        return "docker-archive"  # refined to podman-archive once the layer paths are known
    raise FormatError(f"{store.label}: no manifest.json or index.json: not a docker save or OCI image")


def read_images(store: BlobStore, reference: str) -> list[Image]:
    """Every image in a store (one per platform); raises FormatError when none can be read."""
    fmt = detect_format(store)
    if fmt == "docker-archive":
        images = _LegacyReader(store, reference).read()
    else:
        tags_by_config: dict[str, tuple[str, ...]] = {}
        if fmt == "docker25-archive":
            for entry in _manifest_json(store):
                tags_by_config[sha256_from_blob_path(entry["Config"])] = _str_tuple(entry.get("RepoTags"))
        images = _OciReader(store, reference, fmt, tags_by_config).read()
    if not images:
        raise FormatError(f"{store.label}: holds no image")
    return images


def select_images(
    images: list[Image], label: str, name: str | None = None, platform: Platform | None = None
) -> list[Image]:
    """Keep the images a name (tag or id) and a platform ask for; SourceError naming what exists if none."""
    if name:
        chosen = [i for i in images if _names_image(name, i)]
        if not chosen:
            have = "; ".join(_describe(i) for i in images)
            raise SourceError(f"no image {name!r} in {label}; it holds: {have}")
        images = chosen
    if platform:
        chosen = [i for i in images if i.platform is not None and i.platform.matches(platform)]
        if not chosen:
            have = ", ".join(sorted({str(i.platform) for i in images})) or "none"
            raise SourceError(f"no image for platform {platform} in {label}; platforms: {have}")
        images = chosen
    return images


def normalize_name(name: str) -> str:
    """docker.io/library/foo -> foo:latest, so user input and stored tags compare equal."""
    if "@" not in name and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def sha256_from_blob_path(path: str) -> str:
    """blobs/sha256/<hex> or <hex>.json -> sha256:<hex> ('' when the path does not carry a digest)."""
    base = posixpath.basename(path)
    base = base.removesuffix(".json").removesuffix(".tar")
    return "sha256:" + base if _HEX64.match(base) else ""


def _names_image(name: str, image: Image) -> bool:
    wanted = normalize_name(name)
    if any(normalize_name(t) == wanted for t in image.repo_tags):
        return True
    bare = name.removeprefix("sha256:")
    if len(bare) >= 12 and re.fullmatch(r"[0-9a-f]+", bare):
        return any(d and d[7:].startswith(bare) for d in (image.id, image.digest))
    return False


def _describe(image: Image) -> str:
    tags = ", ".join(image.repo_tags) or "untagged"
    return f"{tags} ({image.id[:19]}, {image.platform})"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str_tuple(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _fatal_json(store: BlobStore, name: str, loc: BlobLocation | None, what: str) -> tuple[Any, bytes]:
    """Read and parse a JSON document the image cannot be read without; FormatError on any trouble."""
    if loc is None:
        raise FormatError(f"{store.label}: {what} {name} is missing")
    try:
        raw = read_location(loc)
    except (OSError, ValueError) as exc:
        raise FormatError(f"{store.label}: {what} {name} unreadable: {one_line(exc)}") from None
    try:
        return json.loads(raw), raw
    except (ValueError, RecursionError) as exc:
        raise FormatError(f"{store.label}: {what} {name} is not valid JSON: {one_line(exc)}") from None


def _manifest_json(store: BlobStore) -> list[dict[str, Any]]:
    data, _ = _fatal_json(store, "manifest.json", store.locate("manifest.json"), "manifest")
    ok = isinstance(data, list) and all(
        isinstance(e, dict)
        and isinstance(e.get("Config"), str)
        and isinstance(e.get("Layers"), list)
        and all(isinstance(p, str) for p in e["Layers"])
        for e in data
    )
    if not ok:
        raise FormatError(f"{store.label}: manifest.json is not a list of {{Config, Layers}} entries")
    return data  # type: ignore[no-any-return]


def _platform_of(value: Any) -> Platform | None:
    if not isinstance(value, dict):
        return None
    os_, arch, variant = value.get("os"), value.get("architecture"), value.get("variant")
    if not (isinstance(os_, str) and os_ and isinstance(arch, str) and arch):
        return None
    return Platform(os_, arch, variant if isinstance(variant, str) and variant else None)


def _config_problems(
    config: Any, config_label: str
) -> tuple[dict[str, Any], list[str | None], list[Problem]]:
    """The config as a dict and its rootfs.diff_ids; problems for what is not as an image config should be."""
    problems: list[Problem] = []
    if not isinstance(config, dict):
        raise FormatError(f"{config_label} is not a JSON object")
    rootfs = config.get("rootfs")
    raw_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(raw_ids, list):
        problems.append(Problem("config.rootfs", "config has no rootfs.diff_ids; layers cannot be verified"))
        raw_ids = []
    diff_ids: list[str | None] = [d if is_sha256_digest(d) else None for d in raw_ids]
    if None in diff_ids:
        problems.append(Problem("config.rootfs", "config lists a malformed diff_id"))
    return config, diff_ids, problems


def _layer_history(history: tuple[HistoryEntry, ...], index: int) -> HistoryEntry | None:
    return next((h for h in history if h.layer_index == index), None)


def _finish_layers(layers: list[Layer], history: tuple[HistoryEntry, ...]) -> tuple[Layer, ...]:
    return tuple(replace(layer, history=_layer_history(history, layer.index)) for layer in layers)


def _diff_id_problems(layer_count: int, diff_ids: list[str | None]) -> list[Problem]:
    if layer_count == len(diff_ids):
        return []
    return [
        Problem(
            "config.rootfs",
            f"manifest lists {layer_count} layers but config rootfs.diff_ids lists {len(diff_ids)}",
        )
    ]


class _LegacyReader:
    """docker save (manifest.json + <id>/layer.tar) and podman/skopeo (<hex>.tar at the root) archives."""

    def __init__(self, store: BlobStore, reference: str) -> None:
        self.store = store
        self.reference = reference
        self._folders: dict[str, str] | None = None

    def read(self) -> list[Image]:
        return [self._image(entry) for entry in _manifest_json(self.store)]

    def _podman_folders(self) -> dict[str, str]:
        """podman's root <hex>.tar -> the <id> folder whose layer.tar symlink points at it."""
        if self._folders is None:
            self._folders = {}
            for name in self.store.names():
                if name.endswith("/layer.tar"):
                    target = self.store.link_target(name)
                    if target is not None and "/" not in target:
                        self._folders.setdefault(target, posixpath.dirname(name))
        return self._folders

    def _image(self, entry: dict[str, Any]) -> Image:
        store = self.store
        config_name: str = entry["Config"]
        config, raw = _fatal_json(store, config_name, store.locate(config_name), "config")
        config, diff_ids, problems = _config_problems(config, f"{store.label}: config {config_name}")
        image_id = sha256_digest(raw)
        named = sha256_from_blob_path(config_name)
        if named and named != image_id:
            problems.append(
                Problem(config_name, f"config content hashes to {image_id}, not the {named} its name says")
            )
        paths: list[str] = entry["Layers"]
        # podman/skopeo store layers as <hex>.tar at the archive root; Docker as <id>/layer.tar.
        fmt = "podman-archive" if paths and all("/" not in p for p in paths) else "docker-archive"
        problems += _diff_id_problems(len(paths), diff_ids)
        metadata = [
            MetadataDocument("manifest", "manifest.json", entry),
            MetadataDocument("config", f"config {image_id[:19]}", config),
        ]
        layers: list[Layer] = []
        for i, path in enumerate(paths):
            diff_id = diff_ids[i] if i < len(diff_ids) else None
            loc = store.locate(path)
            named_digest = sha256_from_blob_path(path)
            digest = named_digest or diff_id
            if loc is None:
                problems.append(Problem(f"layer {i}", f"layer blob {path} is missing from the archive"))
            layers.append(
                Layer(
                    index=i,
                    digest=digest,
                    diff_id=diff_id,
                    media_type=MT_LEGACY_LAYER,
                    size=loc.size if loc else None,
                    blob=loc,
                    digest_is_compressed=digest is not None and digest != diff_id,
                )
            )
            doc, problem = self._legacy_json(path)
            metadata += doc
            problems += problem
        history, history_problems = map_history(config.get("history"), len(layers))
        return Image(
            reference=self.reference,
            id=image_id,
            digest=None,
            platform=_platform_of(config),
            format=fmt,
            config=config,
            layers=_finish_layers(layers, history),
            history=history,
            metadata=tuple(metadata),
            repo_tags=_str_tuple(entry.get("RepoTags")),
            problems=problems + history_problems,
        )

    def _legacy_json(self, layer_path: str) -> tuple[list[MetadataDocument], list[Problem]]:
        """The <id>/json beside a layer.tar: old-style per-layer config that can still hold secrets."""
        folder = posixpath.dirname(layer_path) or self._podman_folders().get(layer_path)
        if not folder:
            return [], []
        name = folder + "/json"
        loc = self.store.locate(name)
        if loc is None:
            return [], []
        try:
            return [MetadataDocument("legacy-json", name, json.loads(read_location(loc)))], []
        except (OSError, ValueError, RecursionError) as exc:
            return [], [Problem(name, f"legacy layer json not read: {one_line(exc)}")]


@dataclass
class _Candidate:
    """An image manifest found while walking the index tree, with what the tree says about it."""

    descriptor: dict[str, Any]
    platform: Platform | None
    tags: list[str]
    indexes: list[MetadataDocument]


class _OciReader:
    """OCI archives and layouts, and the OCI layout inside Docker >= 25 saves."""

    def __init__(
        self, store: BlobStore, reference: str, fmt: str, tags_by_config: dict[str, tuple[str, ...]]
    ) -> None:
        self.store = store
        self.reference = reference
        self.fmt = fmt
        self.tags_by_config = tags_by_config
        self.candidates: dict[str, _Candidate] = {}
        self.attestations: list[dict[str, Any]] = []
        self.absent: list[str] = []

    def read(self) -> list[Image]:
        index, _ = _fatal_json(self.store, "index.json", self.store.locate("index.json"), "index")
        self._walk(index, "index.json", [], [], depth=0)
        images = [self._image(c) for c in self.candidates.values()]
        by_digest = {i.digest: i for i in images}
        for desc in self.attestations:
            target = by_digest.get(_dict(desc.get("annotations")).get(ANN_REF_DIGEST))
            if target is not None:
                self._attach_attestation(target, desc)
        for image in images:
            image.problems += [Problem("index.json", a, False) for a in self.absent]
        return images

    def _walk(
        self, index: Any, where: str, tags: list[str], chain: list[MetadataDocument], depth: int
    ) -> None:
        if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
            raise FormatError(f"{self.store.label}: {where} is not an image index (no manifests list)")
        if depth > 4:
            raise FormatError(f"{self.store.label}: {where}: image indexes nested deeper than 4 levels")
        chain = [*chain, MetadataDocument("index", where, index)]
        for desc in index["manifests"]:
            if not isinstance(desc, dict) or not is_sha256_digest(desc.get("digest")):
                raise FormatError(f"{self.store.label}: {where} lists a descriptor without a sha256 digest")
            annotations = _dict(desc.get("annotations"))
            if annotations.get(ANN_REF_TYPE) == "attestation-manifest":
                self.attestations.append(desc)
                continue
            digest: str = desc["digest"]
            own_tags = tags + self._tags_of(annotations)
            loc = self.store.locate(blob_name(digest) or "")
            platform = _platform_of(desc.get("platform"))
            if loc is None:
                self.absent.append(
                    f"index lists {platform or 'a manifest'} ({digest[:19]}) "
                    "whose blob is not in the source; not scanned"
                )
                continue
            media_type = desc.get("mediaType")
            if media_type is None:
                # Optional in a descriptor: the blob's own mediaType or shape says what it is.
                data, _ = _fatal_json(self.store, digest, loc, "manifest")
                data = _dict(data)
                media_type = data.get("mediaType") or (
                    MT_OCI_INDEX if "manifests" in data else MT_OCI_MANIFEST
                )
            if media_type in INDEX_TYPES:
                data, raw = _fatal_json(self.store, digest, loc, "index")
                self._check_digest(raw, digest, "index")
                self._walk(data, f"index {digest[:19]}", own_tags, chain, depth + 1)
            elif media_type in MANIFEST_TYPES:
                known = self.candidates.get(digest)
                if known is not None:
                    known.tags += [t for t in own_tags if t not in known.tags]
                else:
                    self.candidates[digest] = _Candidate(desc, platform, own_tags, chain)
            else:
                raise FormatError(f"{self.store.label}: {where} lists unsupported media type {media_type}")

    @staticmethod
    def _tags_of(annotations: dict[str, Any]) -> list[str]:
        # containerd's full name beats the OCI ref name, which is often only a tag ("latest").
        for key in (ANN_CONTAINERD_NAME, ANN_OCI_REF_NAME):
            value = annotations.get(key)
            if isinstance(value, str) and value:
                return [value]
        return []

    def _check_digest(self, raw: bytes, digest: str, what: str) -> None:
        if sha256_digest(raw) != digest:
            raise FormatError(f"{self.store.label}: {what} {digest[:19]} content does not match its digest")

    def _image(self, cand: _Candidate) -> Image:
        store, desc = self.store, cand.descriptor
        digest: str = desc["digest"]
        manifest, raw = _fatal_json(store, digest, store.locate(blob_name(digest) or ""), "manifest")
        problems: list[Problem] = []
        if sha256_digest(raw) != digest:
            problems.append(Problem(f"manifest {digest[:19]}", "manifest content does not match its digest"))
        if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
            raise FormatError(f"{store.label}: manifest {digest[:19]} has no config descriptor")
        if manifest.get("mediaType") in INDEX_TYPES or "manifests" in manifest:
            raise FormatError(
                f"{store.label}: manifest {digest[:19]} is an index but is listed as a manifest"
            )
        config_desc = manifest["config"]
        config_digest = config_desc.get("digest")
        config_name = blob_name(config_digest) if isinstance(config_digest, str) else None
        if config_name is None:
            raise FormatError(f"{store.label}: manifest {digest[:19]} names no sha256 config digest")
        config, raw_config = _fatal_json(store, config_digest, store.locate(config_name), "config")
        config, diff_ids, config_problems = _config_problems(
            config, f"{store.label}: config {config_digest[:19]}"
        )
        problems += config_problems
        image_id = sha256_digest(raw_config)
        if image_id != config_digest:
            problems.append(
                Problem(
                    f"config {config_digest[:19]}", f"config content hashes to {image_id}, not its digest"
                )
            )
        layer_descs = manifest.get("layers")
        if not isinstance(layer_descs, list):
            raise FormatError(f"{store.label}: manifest {digest[:19]} has no layers list")
        problems += _diff_id_problems(len(layer_descs), diff_ids)
        layers = [
            self._layer(i, d, diff_ids[i] if i < len(diff_ids) else None, problems)
            for i, d in enumerate(layer_descs)
        ]
        history, history_problems = map_history(config.get("history"), len(layers))
        tags = self.tags_by_config.get(config_digest) or tuple(cand.tags)
        metadata = [
            *cand.indexes,
            MetadataDocument("manifest", f"manifest {digest[:19]}", manifest),
            MetadataDocument("config", f"config {config_digest[:19]}", config),
        ]
        return Image(
            reference=self.reference,
            id=config_digest,
            digest=digest,
            platform=cand.platform or _platform_of(config),
            format=self.fmt,
            config=config,
            layers=_finish_layers(layers, history),
            history=history,
            metadata=tuple(metadata),
            repo_tags=tuple(tags),
            problems=problems + history_problems,
        )

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
            size=loc.size if loc else desc.get("size") if isinstance(desc.get("size"), int) else None,
            blob=loc,
            foreign=foreign,
            digest_is_compressed=digest != diff_id,
        )

    def _attach_attestation(self, image: Image, desc: dict[str, Any]) -> None:
        """An attestation manifest's in-toto layers become metadata of the image it references."""
        digest: str = desc["digest"]
        where = f"attestation {digest[:19]}"
        loc = self.store.locate(blob_name(digest) or "")
        try:
            manifest = json.loads(read_location(loc)) if loc else None
        except (OSError, ValueError, RecursionError) as exc:
            image.problems.append(Problem(where, f"attestation manifest not read: {one_line(exc)}"))
            return
        if not isinstance(manifest, dict):
            image.problems.append(Problem(where, "attestation manifest is missing or not a JSON object"))
            return
        docs = [MetadataDocument("manifest", f"attestation manifest {digest[:19]}", manifest)]
        for layer in manifest.get("layers") or []:
            docs += self._attestation_layer(image, layer)
        image.metadata = (*image.metadata, *docs)

    def _attestation_layer(self, image: Image, desc: Any) -> Iterator[MetadataDocument]:
        layer_digest = desc.get("digest") if isinstance(desc, dict) else None
        if not isinstance(layer_digest, str):
            image.problems.append(Problem("attestation", "attestation layer without a digest"))
            return
        where = f"attestation {layer_digest[:19]}"
        annotations = _dict(desc.get("annotations"))
        predicate = annotations.get("in-toto.io/predicate-type")
        loc = self.store.locate(blob_name(layer_digest) or "")
        if loc is None:
            image.problems.append(Problem(where, "attestation blob is missing from the source"))
            return
        try:
            raw = read_location(loc)
            if raw.startswith(GZIP_MAGIC):
                raw = _gunzip_capped(raw)
            data = json.loads(raw)
        except (OSError, ValueError, EOFError, zlib.error, RecursionError) as exc:
            image.problems.append(Problem(where, f"attestation not read: {one_line(exc)}"))
            return
        if predicate is None and isinstance(data, dict):
            predicate = data.get("predicateType")
        yield MetadataDocument("attestation", f"{where} ({predicate or 'unknown predicate'})", data)


def _gunzip_capped(raw: bytes) -> bytes:
    with gzip.GzipFile(fileobj=io.BytesIO(raw)) as f:
        out = f.read(JSON_CAP + 1)
    if len(out) > JSON_CAP:
        raise ValueError(f"decompressed over the {JSON_CAP >> 20} MiB limit")
    return out
