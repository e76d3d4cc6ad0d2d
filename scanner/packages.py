"""Package manifests inside an image (dpkg md5sums and conffiles, Python RECORD): who installed a file."""

from __future__ import annotations

import posixpath
import re

# in-image path -> (algorithm, digest, who installed it)
Owned = tuple[str, str, str]

_PYC = re.compile(r"^(?P<dir>.*)/__pycache__/(?P<name>[^/.]+)\.[^/]+\.pyc$")


def is_manifest(path: str) -> bool:
    return (
        (path.startswith("var/lib/dpkg/info/") and path.endswith(".md5sums"))
        or path == "var/lib/dpkg/status"
        or path.endswith(".dist-info/RECORD")
    )


def read_manifest(path: str, data: bytes) -> dict[str, Owned]:
    """The files a manifest names with their digests (paths without a leading "/")."""
    text = data.decode("utf-8", "replace")
    if path.endswith(".md5sums"):
        package = posixpath.basename(path)[: -len(".md5sums")].split(":")[0]
        return dict(_md5sums(text, f"Debian package {package}"))
    if path == "var/lib/dpkg/status":
        return dict(_conffiles(text))
    base, dist_info = posixpath.split(posixpath.dirname(path))
    dist = dist_info[: -len(".dist-info")]
    out: dict[str, Owned] = {}
    for line in text.splitlines():
        parts = line.rsplit(",", 2)
        if len(parts) == 3 and parts[1].startswith("sha256="):
            name = posixpath.normpath(posixpath.join(base, parts[0]))
            out[name] = ("sha256", parts[1][len("sha256=") :], f"Python package {dist}")
        elif len(parts) == 3 and parts[0].endswith(".py"):
            out.setdefault(
                posixpath.normpath(posixpath.join(base, parts[0])), ("", "", f"Python package {dist}")
            )
    return out


def _md5sums(text: str, package: str) -> list[tuple[str, Owned]]:
    out = []
    for line in text.splitlines():
        digest, _, name = line.partition("  ")
        if len(digest) == 32 and name:
            out.append((name.lstrip("/"), ("md5", digest, package)))
    return out


def _conffiles(text: str) -> list[tuple[str, Owned]]:
    """dpkg keeps configuration files' md5 in /var/lib/dpkg/status, not in the md5sums files."""
    out = []
    for stanza in text.split("\n\n"):
        package = ""
        in_conffiles = False
        for line in stanza.splitlines():
            if line.startswith("Package: "):
                package = line[len("Package: ") :].strip()
            elif line.startswith("Conffiles:"):
                in_conffiles = True
            elif in_conffiles and line.startswith(" "):
                fields = line.split()
                if len(fields) >= 2 and len(fields[1]) == 32:
                    out.append(
                        (fields[0].lstrip("/"), ("md5", fields[1], f"Debian package {package} (conffile)"))
                    )
            else:
                in_conffiles = False
    return out


def unmodified_owner(
    path: str, md5: str | None, sha256: str | None, packaged: dict[str, Owned]
) -> str | None:
    """Why a file with a finding is vendor content: installed by a package and byte-for-byte unmodified.

    Byte code is owned by its package when the package installed its source (pip lists the .pyc files it
    compiles without a hash; the source's own finding is checked against its digest).
    """
    owner = packaged.get(path)
    if owner is not None and owner[0]:
        algo, digest, package = owner
        mine = md5 if algo == "md5" else sha256
        if mine == digest:
            return f"unmodified file installed by {package} (its {algo} matches the package manifest)"
        return None
    m = _PYC.match(path)
    if m is not None:
        source = f"{m['dir']}/{m['name']}.py"
        src_owner = packaged.get(source)
        if src_owner is not None:
            return f"byte code compiled from /{source}, installed by {src_owner[2]}"
    return None
