"""Media types, descriptors, bounds, and reading JSON documents out of a store of named blobs."""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Iterable
from typing import Any, Protocol

from scanner.blob import Blob
from scanner.decompress import read_up_to
from scanner.errors import FormatError, LayerError
from scanner.image import MetadataDocument, Platform, is_sha256_digest

# Manifests, indexes and configs are small; a bigger one is a malformed or hostile image.
JSON_CAP = 16 * 1024 * 1024
# Counts an image source may hold; past one the source is refused (a FormatError), never half read.
MAX_IMAGES = 256  # distinct images (manifests) in one source
MAX_LAYERS = 1024  # layers of one image
MAX_ENTRIES = 4096  # manifest.json entries, or descriptors in one index
MAX_INDEX_DEPTH = 4  # image indexes nested in index.json

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

# Struct fields the runtimes' Go JSON decoder matches case-insensitively (the last matching key wins).
_GO_FIELDS = frozenset(
    {
        *("config", "repotags", "layers", "manifests", "mediatype", "digest", "size", "urls", "platform"),
        *("annotations", "rootfs", "diff_ids", "history", "empty_layer", "os", "architecture", "variant"),
        *("schemaversion", "subject"),
    }
)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class BlobStore(Protocol):
    """Named files of an image source (outer tar members or layout-directory files), located on disk."""

    label: str  # how messages name the source, e.g. the archive path
    container: str  # "archive", "directory" (or, for a registry, what its reader says)

    def locate(self, name: str) -> Blob | None:
        """The bytes of a file by its path inside the source (symlinks resolved inside it), or None."""
        ...

    def names(self) -> Iterable[str]:
        """Member names, at least every <id>/layer.tar (used only to find podman's <id>/ folders)."""
        ...

    def link_target(self, name: str) -> str | None:
        """The final name a symlinked member resolves to, or None."""
        ...


def read_location(loc: Blob, cap: int = JSON_CAP) -> bytes:
    """Read a whole (small) blob; raises OSError, or ValueError when it is larger than `cap`."""
    if loc.size is not None and loc.size > cap:
        raise ValueError(f"{loc.size} bytes, over the {cap >> 20} MiB limit")
    try:
        with loc.open() as f:
            data = read_up_to(f, cap + 1)
    except LayerError as exc:
        raise OSError(str(exc)) from None
    if len(data) > cap:
        raise ValueError(f"over the {cap >> 20} MiB limit")
    return data


def one_line(text: object) -> str:
    return " ".join(str(text).split())


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blob_name(digest: str) -> str | None:
    """The OCI layout path of a digest, or None for anything but a well-formed sha256 digest."""
    return "blobs/sha256/" + digest[7:] if is_sha256_digest(digest) else None


def sha256_from_blob_path(path: str) -> str:
    """blobs/sha256/<hex> or <hex>.json -> sha256:<hex> ('' when the path does not carry a digest)."""
    base = posixpath.basename(path)
    base = base.removesuffix(".json").removesuffix(".tar")
    return "sha256:" + base if _HEX64.match(base) else ""


def dict_of(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def str_tuple(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def platform_of(value: Any) -> Platform | None:
    if not isinstance(value, dict):
        return None
    os_, arch, variant = value.get("os"), value.get("architecture"), value.get("variant")
    if not (isinstance(os_, str) and os_ and isinstance(arch, str) and arch):
        return None
    return Platform(os_, arch, variant if isinstance(variant, str) and variant else None)


def go_field(obj: dict[str, Any], name: str) -> Any:
    """A struct field as Go's decoder finds it: the key equal to `name` ignoring case (None if absent)."""
    if name in obj:
        return obj[name]
    low = name.lower()
    return next((v for k, v in obj.items() if k.lower() == low), None)


def parse_json(raw: bytes) -> Any:
    """JSON as the runtimes read it; ValueError where Go's decoder could see other values than ours.

    Go matches struct fields case-insensitively and keeps the last match, Python keeps the last exact
    key: an object with both `layers` and `Layers` would name different layers to each.
    """
    return json.loads(raw, object_pairs_hook=_pairs)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, str] = {}
    for key, _ in pairs:
        low = key.lower()
        if low in _GO_FIELDS and seen.setdefault(low, key) != key:
            raise ValueError(f"keys {seen[low]!r} and {key!r} differ only in case")
    return dict(pairs)


class JsonReader:
    """Reads and parses each named document of a store once: many entries naming one blob cost one read."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self._done: dict[str, tuple[Any, bytes]] = {}
        self._documents: dict[tuple[str, str], MetadataDocument] = {}

    def fatal(self, name: str, what: str) -> tuple[Any, bytes]:
        """A JSON document the image cannot be read without, and its bytes; FormatError on any trouble."""
        if name in self._done:
            return self._done[name]
        label = self.store.label
        loc = self.store.locate(name)
        if loc is None:
            raise FormatError(f"{label}: {what} {short(name)} is missing")
        try:
            raw = read_location(loc)
        except (OSError, ValueError) as exc:
            raise FormatError(f"{label}: {what} {short(name)} unreadable: {one_line(exc)}") from None
        try:
            data = parse_json(raw)
        except (ValueError, RecursionError) as exc:
            raise FormatError(f"{label}: {what} {short(name)} is not valid JSON: {one_line(exc)}") from None
        self._done[name] = (data, raw)
        return data, raw

    def document(self, area: str, where: str, name: str) -> MetadataDocument:
        """A document already read, as metadata to scan: one object however many images share it, so
        the metadata scan can do each distinct document once."""
        key = (area, name)
        if key not in self._documents:
            data, raw = self._done[name]
            self._documents[key] = MetadataDocument(area, where, data, raw)
        return self._documents[key]

    def blob(self, digest: str, what: str) -> tuple[Any, bytes]:
        """The document a sha256 descriptor names, from blobs/sha256/<hex>."""
        return self.fatal(blob_name(digest) or digest, what)


def short(name: str) -> str:
    """blobs/sha256/<hex> -> sha256:<12 hex> for messages; other names as they are."""
    digest = sha256_from_blob_path(name) if name.startswith("blobs/") else ""
    return digest[:19] if digest else name


def json_list_items(raw: bytes) -> list[tuple[Any, bytes]]:
    """The items of a JSON array with each item's own bytes (ValueError if `raw` is not one array)."""
    text = raw.decode("utf-8")
    decoder = json.JSONDecoder(object_pairs_hook=_pairs)
    pos = _skip_ws(text, 0)
    if text[pos : pos + 1] != "[":
        raise ValueError("not a JSON array")
    items: list[tuple[Any, bytes]] = []
    pos = _skip_ws(text, pos + 1)
    if text[pos : pos + 1] == "]":
        pos += 1
    else:
        while True:
            value, end = decoder.raw_decode(text, pos)
            items.append((value, text[pos:end].encode("utf-8")))
            pos = _skip_ws(text, end)
            sep = text[pos : pos + 1]
            pos = _skip_ws(text, pos + 1)
            if sep == "]":
                break
            if sep != ",":
                raise ValueError(f"expected ',' or ']' at character {pos}")
    if _skip_ws(text, pos) != len(text):
        raise ValueError("extra data after the JSON array")
    return items


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos
