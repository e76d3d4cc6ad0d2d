"""Image sources: a reference parsed once (skopeo's transport names), picked Source, images out."""

from __future__ import annotations

from pathlib import Path

from scanner.errors import SourceError, UsageError
from scanner.image import Image, Platform
from scanner.sources.archive import ArchiveSource
from scanner.sources.daemon import DaemonSource
from scanner.sources.interface import OnBlob, Reference, Source
from scanner.sources.layout import LayoutSource
from scanner.sources.registry import RegistryOptions, RegistrySource

ARCHIVE_SUFFIXES = (".tar", ".tgz", ".tar.gz", ".tar.zst", ".tar.xz")
_PATH_TRANSPORTS = ("docker-archive", "oci-archive", "oci")


# One line per source; the first whose transports name a reference's transport opens it.
SOURCES: tuple[Source, ...] = (
    DaemonSource(),
    ArchiveSource(),
    LayoutSource(),
    RegistrySource(),
)


def parse_reference(text: str) -> Reference:
    """The one reference parser. Transports as skopeo names them (docker-daemon:, docker://, docker-archive:,
    oci-archive:, oci:); a bare reference is a directory (oci), an existing file (an archive, detected by
    content), a path-looking missing file (SourceError), or else a daemon image NAME[:TAG]."""
    if not text.strip():
        raise UsageError("empty image reference")
    if text.startswith("docker://"):
        return Reference(text, "docker", _nonempty(text, text[len("docker://") :]))
    transport, _, rest = text.partition(":")
    if transport == "docker-daemon":
        return Reference(text, transport, _nonempty(text, rest))
    if transport in _PATH_TRANSPORTS and rest:
        path, name = _path_and_name(rest)
        _existing(path, directory=transport == "oci")
        return Reference(text, transport, path, name)
    local = Path(text)
    if local.is_dir():
        return Reference(text, "oci", text)
    if local.exists():
        return Reference(text, "docker-archive", text)
    if text.startswith((".", "/", "~")) or text.endswith(ARCHIVE_SUFFIXES):
        # A path-looking reference that does not exist is a typo, not an image name for the daemon.
        raise SourceError(f"no such file or directory: {text}")
    return Reference(text, "docker-daemon", text)


def source_for(ref: Reference) -> Source:
    """The registered source for a reference's transport."""
    for source in SOURCES:
        if ref.transport in source.transports:
            return source
    raise UsageError(f"no image source reads the {ref.transport} transport")


def open_images(
    reference: str | Reference,
    workdir: Path,
    platform: Platform | None = None,
    on_blob: OnBlob | None = None,
    registry: RegistryOptions | None = None,
) -> list[Image]:
    """Every image `reference` names (one per platform unless `platform` picks); writes only into `workdir`.

    For a daemon image, `on_blob` hears of each layer-like blob while the save stream is still arriving.
    """
    ref = parse_reference(reference) if isinstance(reference, str) else reference
    # --creds/--tls-verify/--cert-dir/--ca reach the registry source through its options.
    source = (
        RegistrySource(registry) if registry is not None and ref.transport == "docker" else source_for(ref)
    )
    return source.open(ref, workdir, platform, on_blob)


def _nonempty(text: str, rest: str) -> str:
    if not rest:
        raise UsageError(f"image reference {text!r} names no image")
    return rest


def _path_and_name(rest: str) -> tuple[str, str | None]:
    """PATH[:NAME], where PATH itself may contain ':' (the longest existing prefix wins)."""
    if Path(rest).exists():
        return rest, None
    path, sep, name = rest.rpartition(":")
    while sep:
        if Path(path).exists():
            return path, name
        path, sep, tail = path.rpartition(":")
        name = f"{tail}:{name}"
    return rest, None


def _existing(path: str, directory: bool = False) -> None:
    local = Path(path)
    if not local.exists():
        raise SourceError(f"no such file or directory: {path}")
    if directory and not local.is_dir():
        raise SourceError(f"{path} is not a directory (oci: expects an OCI layout directory)")
