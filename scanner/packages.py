"""Vendor triage: who installed a file (dpkg md5sums, conffiles, Python RECORD) and what that may change."""

from __future__ import annotations

import functools
import hashlib
import posixpath
import re
from importlib.resources import files

from scanner.findings import Severity
from scanner.model import Hit, Owner

_PYC = re.compile(r"^(?P<dir>.*)/__pycache__/(?P<name>[^/.]+)\.[^/]+\.pyc$")
_PEM_ARMOUR = re.compile(r"-----(BEGIN|END)[^-\n]*-----")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]")
PRIVATE_KEY_RULES = frozenset({"credential-file/private-key", "pattern/private-key"})
# Findings the image's own manifests may explain but never lower: tokens, credential files, known secrets.
_NEVER_BY_MANIFEST = ("known-secret", "credential")


def is_manifest(path: str) -> bool:
    return (
        (path.startswith("var/lib/dpkg/info/") and path.endswith(".md5sums"))
        or path == "var/lib/dpkg/status"
        or path.endswith(".dist-info/RECORD")
    )


def read_manifest(path: str, data: bytes) -> dict[str, Owner]:
    """The files a manifest names with their digests (paths without a leading "/")."""
    text = data.decode("utf-8", "replace")
    if path.endswith(".md5sums"):
        package = posixpath.basename(path)[: -len(".md5sums")].split(":")[0]
        return dict(_md5sums(text, f"Debian package {package}"))
    if path == "var/lib/dpkg/status":
        return dict(_conffiles(text))
    base, dist_info = posixpath.split(posixpath.dirname(path))
    rows = [parts for line in text.splitlines() if len(parts := line.rsplit(",", 2)) == 3]
    # pip records direct_url.json for a local directory or VCS install: the application's own code.
    own = any(parts[0] == f"{dist_info}/direct_url.json" for parts in rows)
    dist = dist_info[: -len(".dist-info")]
    label = f"local or VCS install of Python package {dist}" if own else f"Python package {dist}"
    out: dict[str, Owner] = {}
    for name, digest, _size in rows:
        where = posixpath.normpath(posixpath.join(base, name))
        if digest.startswith("sha256="):
            out[where] = Owner("sha256", digest[len("sha256=") :], label, not own)
        elif name.endswith(".py"):
            out.setdefault(where, Owner("", "", label, not own))
    return out


def _md5sums(text: str, package: str) -> list[tuple[str, Owner]]:
    out = []
    for line in text.splitlines():
        digest, _, name = line.partition("  ")
        if len(digest) == 32 and name:
            out.append((name.lstrip("/"), Owner("md5", digest, package)))
    return out


def _conffiles(text: str) -> list[tuple[str, Owner]]:
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
                        (
                            fields[0].lstrip("/"),
                            Owner("md5", fields[1], f"Debian package {package} (conffile)"),
                        )
                    )
            else:
                in_conffiles = False
    return out


def unmodified_owner(
    path: str, md5: str | None, sha256: str | None, packaged: dict[str, Owner]
) -> Owner | None:
    """The package that installed this file byte for byte, by the image's own manifests.

    Byte code is owned by its package when the package installed its source (pip lists the .pyc files it
    compiles without a hash; the source's own finding is checked against its digest).
    """
    owner = packaged.get(path)
    if owner is not None and owner.algorithm:
        mine = md5 if owner.algorithm == "md5" else sha256
        return owner if mine == owner.digest else None
    m = _PYC.match(path)
    if m is not None:
        return packaged.get(f"{m['dir']}/{m['name']}.py")
    return None


def triage(
    rule_id: str, category: str, severity: Severity, hit: Hit, packaged: dict[str, Owner]
) -> tuple[Severity, str | None]:
    """The severity and note of a file finding once the image's package manifests are consulted.

    The image's manifests are the image talking about itself: they may explain a finding (the note) and
    lower generic ones (entropy, keywords, sensitive file names), never a token, a credential file or a
    known secret. A private key or token is lowered only when imgscan's own list of published test keys
    names it and a third-party package (not a local or VCS install) ships the file."""
    note = hit.note
    if category == "known-secret":
        return severity, note  # a build secret found anywhere is never vendor content
    owner = unmodified_owner(hit.path, hit.file_md5, hit.file_sha256, packaged)
    listed = packaged.get(hit.path, owner)
    if hit.public_test_key:
        if listed is not None and listed.third_party:
            return Severity.INFO, f"a public test key shipped by {listed.package} (in imgscan's list of them)"
        return severity, _join(
            note, "a published test key (in imgscan's list), but not in a third-party package"
        )
    if owner is None:
        return severity, note
    why = f"installed by {owner.package}, unmodified (the image's own manifest says so)"
    token = rule_id.startswith("pattern/") and rule_id != "pattern/keyword"
    if category in _NEVER_BY_MANIFEST or token or not owner.third_party:
        return severity, _join(note, why)
    return Severity.INFO, why


def _join(note: str | None, more: str) -> str:
    return f"{note}; {more}" if note else more


def may_be_published(rule_id: str) -> bool:
    """Rules whose values imgscan's list of published test keys can name: private keys and tokens."""
    return rule_id in PRIVATE_KEY_RULES or (rule_id.startswith("pattern/") and rule_id != "pattern/keyword")


def test_key_digest(rule_id: str, secret: str) -> str:
    """How the list names a value: a private key by its body (any wrapping), a token by its sha256."""
    if rule_id in PRIVATE_KEY_RULES:
        return key_body_digest(secret)
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def key_body_digest(pem: str) -> str:
    """sha256 of a PEM key's base64 body, armour and whitespace removed: the same for every copy of a key."""
    body = _NOT_BASE64.sub("", _PEM_ARMOUR.sub("", pem))
    return hashlib.sha256(body.encode("ascii")).hexdigest()


@functools.cache
def public_test_keys() -> frozenset[str]:
    """Digests (test_key_digest) of the private keys and tokens published in third-party packages' tests,
    docs and examples; shipped with imgscan, refreshed by scripts/build-test-key-list."""
    text = files("scanner").joinpath("data/public-test-keys.txt").read_text(encoding="utf-8")
    return frozenset(line.split()[0] for line in text.splitlines() if line and not line.startswith("#"))


def is_public_test_key(rule_id: str, secret: str) -> bool:
    return (
        may_be_published(rule_id) and bool(secret) and test_key_digest(rule_id, secret) in public_test_keys()
    )
