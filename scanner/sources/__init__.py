"""Image sources: a reference (transport:location) in, the images it holds out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from scanner.blob import BlobLocation
from scanner.errors import SourceError
from scanner.formats import select_images
from scanner.image import Image, Platform
from scanner.sources.archive import open_archive
from scanner.sources.daemon import open_daemon
from scanner.sources.layout import open_layout
from scanner.sources.registry import RegistryOptions, is_registry_reference, open_registry

ARCHIVE_SUFFIXES = (".tar", ".tgz", ".tar.gz", ".tar.zst", ".tar.xz")


def daemon_name(ref: str) -> str | None:
    """The daemon image name `ref` stands for, or None when it names a file, a directory or a transport."""
    if is_registry_reference(ref):
        return None
    transport, _, rest = ref.partition(":")
    if transport in ("docker", "docker-daemon") and rest:
        return rest
    if transport in ("docker-archive", "oci-archive", "oci") and rest:
        return None
    if Path(ref).exists() or ref.startswith((".", "/", "~")) or ref.endswith(ARCHIVE_SUFFIXES):
        return None
    return ref


def open_images(
    ref: str,
    tmpdir: Path,
    platform: Platform | None = None,
    on_blob: Callable[[BlobLocation], None] | None = None,
    registry: RegistryOptions | None = None,
) -> list[Image]:
    """Every image `ref` names (one per platform unless `platform` picks); writes only into `tmpdir`.

    For a daemon image, `on_blob` hears of each layer-like blob while the save stream is still arriving.
    """
    if is_registry_reference(ref):
        return select_images(
            open_registry(ref, tmpdir, registry or RegistryOptions()), ref, platform=platform
        )
    transport, _, rest = ref.partition(":")
    if transport in ("docker", "docker-daemon") and rest:
        return select_images(open_daemon(rest, tmpdir, on_blob), rest, platform=platform)
    if transport in ("docker-archive", "oci-archive") and rest:
        path, name = _path_and_name(rest)
        return select_images(open_archive(_existing(path), tmpdir, ref), path, name, platform)
    if transport == "oci" and rest:
        path, name = _path_and_name(rest)
        return select_images(open_layout(_existing(path, directory=True), ref), path, name, platform)
    local = Path(ref)
    if local.is_dir():
        return select_images(open_layout(local, ref), ref, platform=platform)
    if local.exists():
        return select_images(open_archive(local, tmpdir, ref), ref, platform=platform)
    if ref.startswith((".", "/", "~")) or ref.endswith(ARCHIVE_SUFFIXES):
        # A path-looking reference that does not exist is a typo, not an image name for the daemon.
        raise SourceError(f"no such file or directory: {ref}")
    return select_images(open_daemon(ref, tmpdir, on_blob), ref, platform=platform)


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


def _existing(path: str, directory: bool = False) -> Path:
    local = Path(path)
    if not local.exists():
        raise SourceError(f"no such file or directory: {path}")
    if directory and not local.is_dir():
        raise SourceError(f"{path} is not a directory (oci: expects an OCI layout directory)")
    return local
