"""Sensitive files by path and content sniff: credential files, private keys, keystores, whiteouts."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, ClassVar

from scanner.detectors.base import Content, RawMatch, Rule, TarEntry, data_table, table_digest
from scanner.detectors.credfiles import PARSERS, parse
from scanner.detectors.credtext import Parsed
from scanner.detectors.filters import is_documented_example, is_placeholder, is_secret_reference
from scanner.detectors.keyfiles import (
    KDBX_MAGIC,
    KeyBlock,
    is_pkcs12,
    jks_contents,
    judge_key,
    pkcs12_contents,
    private_key_blocks,
)
from scanner.findings import Severity


@dataclass(frozen=True)
class FileFormat:
    """How to talk about one kind of sensitive file in a finding."""

    label: str  # "a .netrc file"
    remediation: str


_TABLES = data_table("filenames.toml")
_RUNTIME = "Provide it at run time (volume or orchestrator secret) instead of baking it into the image; "


def _remediation(spec: dict[str, Any]) -> str:
    if "mount" in spec:
        secret_id, src, target = spec["mount"]
        return (
            f"Pass it with `docker build --secret id={secret_id},src={src}` and read it in "
            f"`RUN --mount=type=secret,id={secret_id},target={target}`; rotate the leaked credential."
        )
    if "runtime" in spec:
        return _RUNTIME + str(spec["runtime"])
    return str(spec["remediation"])


FORMATS: dict[str, FileFormat] = {
    name: FileFormat(spec["label"], _remediation(spec)) for name, spec in _TABLES["formats"].items()
}

# Formats whose parser reads any text: an empty result means "no credential", never "could not read it".
_ALWAYS_UNDERSTOOD = {"git-config", "dotenv", "shell-history", "pip-conf"}
_BINARY_FORMATS = ("pkcs12", "java-keystore", "keepass")
_MEDIUM_CREDENTIALS = {"htpasswd"}  # hashes, not usable credentials as they stand


def _build_rules() -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for fmt, spec in FORMATS.items():
        if fmt in PARSERS or fmt in ("private-key", "pkcs12", "java-keystore"):
            severity = Severity.MEDIUM if fmt in _MEDIUM_CREDENTIALS else Severity.HIGH
            rules.append(
                Rule(
                    f"credential-file/{fmt}",
                    "credential",
                    severity,
                    f"Credential in {spec.label}",
                    f"The image contains {spec.label} holding a credential value (not a placeholder). "
                    "Anyone who can pull the image can read it, even if a later layer deletes the file.",
                    spec.remediation,
                )
            )
        if fmt != "private-key" and fmt not in _ALWAYS_UNDERSTOOD:
            rules.append(
                Rule(
                    f"sensitive-file/{fmt}",
                    "sensitive-file",
                    Severity.MEDIUM,
                    f"Sensitive file: {spec.label}",
                    f"The image contains {spec.label} that is not empty but whose credential could not be "
                    "read out (unparsed, encrypted or binary). Check what it holds.",
                    spec.remediation,
                )
            )
    rules.append(
        Rule(
            "sensitive-file/deleted",
            "sensitive-file",
            Severity.INFO,
            "Sensitive file deleted by a whiteout",
            "A sensitive file was deleted here; its bytes may remain in an earlier layer, where the other "
            "rules report them if they hold a credential.",
            "Deleting a file in a later layer does not remove it from the image: use "
            "`RUN --mount=type=secret` so it never lands, and rotate the credential.",
        )
    )
    return tuple(rules)


# --- which paths are sensitive ----------------------------------------------------------------------

_BY_NAME: dict[str, str] = _TABLES["by_name"]
_BY_PARENT_AND_NAME: dict[str, str] = _TABLES["by_parent_and_name"]
_ENV_TEMPLATES = (".example", ".sample", ".template", ".dist", ".tmpl", ".tpl")
_KUBECONFIG_EXTS = ("", ".yaml", ".yml", ".conf", ".config", ".json")


def effective_path(content_path: str, inner_path: str | None) -> str:
    """The path a file is known by: its in-image path, or its path inside the innermost nested archive."""
    if inner_path:
        return inner_path.rsplit("!", 1)[-1].lstrip("/")
    return content_path


def sensitive_format(path: str) -> str | None:
    """The credential-file format a path names, or None. Content sniffs (keys, keystores) come on top."""
    parts = path.rstrip("/").split("/")
    name = parts[-1]
    parent = parts[-2] if len(parts) > 1 else ""
    lower = name.lower()
    if name in _BY_NAME:
        return _BY_NAME[name]
    if f"{parent}/{name}" in _BY_PARENT_AND_NAME:
        return _BY_PARENT_AND_NAME[f"{parent}/{name}"]
    if parent == ".ssh" and name.startswith("id_") and not name.endswith(".pub"):
        return "ssh-private-key"
    if (
        name == ".env"
        or (name.startswith(".env.") and not lower.endswith(_ENV_TEMPLATES))
        or lower.endswith(".env")
    ):
        return "dotenv" if not lower.endswith(_ENV_TEMPLATES) else None
    if "kubeconfig" in lower and _ext(lower) in _KUBECONFIG_EXTS:
        return "kubeconfig"
    if lower.endswith((".tfstate", ".tfstate.backup")):
        return "terraform-state"
    if lower.endswith((".tfvars", ".tfvars.json")):
        return "terraform-vars"
    if name == "auth.json":
        return "auth-json"  # containers auth.json or Composer auth.json: decided by content
    if lower.endswith((".p12", ".pfx")):
        return "pkcs12"
    if lower.endswith((".jks", ".jceks", ".keystore")):
        return "java-keystore"
    if lower.endswith((".kdbx", ".kdb")):
        return "keepass"
    return None


def _ext(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:] if dot > 0 else ""


_SENSITIVE_DIRS = {".ssh", ".aws", ".docker", ".kube", ".gnupg"}


def _sensitive_deleted(path: str) -> str | None:
    fmt = sensitive_format(path)
    if fmt is not None:
        return fmt
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name if name in _SENSITIVE_DIRS else None


# --- the detector ----------------------------------------------------------------------------------


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogateescape"))


def _is_path_like(data: bytes) -> bool:
    """A symlink's target text (we get it as the data) or a lone path: not a credential file's content."""
    text = data.strip()
    return b"\n" not in text and len(text) < 4096 and is_secret_reference(text.decode("utf-8", "replace"))


def _blob_secret(data: bytes) -> str:
    return base64.b64encode(data[:4096]).decode("ascii")


class SensitiveFileDetector:
    """Credential files (value pulled out), private keys anywhere, keystores, deleted sensitive files."""

    family: ClassVar[str] = "credential-file"
    rank: ClassVar[int] = 1
    version: ClassVar[str] = "2:" + table_digest("filenames.toml")
    rules: tuple[Rule, ...] = _build_rules()

    def scan_content(self, content: Content) -> list[RawMatch]:
        path = effective_path(content.path, content.inner_path)
        data = content.data
        matches: list[RawMatch] = []
        fmt = sensitive_format(path)
        if content.is_first and content.offset == 0:
            if (
                fmt is None
                and path.endswith(".json")
                and b"service_account" in data
                and b"private_key" in data
            ):
                fmt = "service-account"
            if fmt == "auth-json":
                fmt = "docker-config" if b'"auths"' in data else "composer-auth"
            matches.extend(self._binary(fmt, path, data))
            if fmt is not None and fmt not in _BINARY_FORMATS:
                matches.extend(self._credential_file(fmt, data))
        taken = [(m.start, m.end) for m in matches]
        keys = [k for k in private_key_blocks(data) if not any(k.start < e and s < k.end for s, e in taken)]
        for key in keys:
            matches.append(self._key_match(path, data, key))
        lone_ssh_file = fmt == "ssh-private-key" and content.is_first and not keys and not matches
        if lone_ssh_file and data.strip() and not _is_path_like(data):
            matches.append(RawMatch("sensitive-file/ssh-private-key", 0, 0, ""))
        return matches

    def _credential_file(self, fmt: str, data: bytes) -> list[RawMatch]:
        if not data.strip() or _is_path_like(data):
            return []  # BuildKit leaves 0-byte secret mount points behind; a symlink target is not content
        text = data.decode("utf-8", "surrogateescape")
        # Every format with a parser is text: NUL bytes mean binary junk, whose `a:b:c:d:e` runs are no
        # pgpass line. Not understood, so reported as a sensitive file to look at.
        parsed = parse(fmt, text) if b"\x00" not in data else Parsed((), False)
        real = [c for c in parsed.credentials if not _is_stand_in(fmt, c.value)]
        if real:
            return [
                RawMatch(
                    f"credential-file/{fmt}", _byte_offset(text, c.start), _byte_offset(text, c.end), c.value
                )
                for c in real
            ]
        if parsed.credentials or parsed.understood or fmt in _ALWAYS_UNDERSTOOD:
            return []
        if fmt == "ssh-private-key":
            return []  # decided by the private-key blocks in scan()
        return [RawMatch(f"sensitive-file/{fmt}", 0, 0, "")]

    def _binary(self, fmt: str | None, path: str, data: bytes) -> list[RawMatch]:
        if is_pkcs12(data):
            contents = pkcs12_contents(data)
            if contents == "key":
                return [RawMatch("credential-file/pkcs12", 0, 0, _blob_secret(data))]
            if contents == "encrypted":
                return [RawMatch("sensitive-file/pkcs12", 0, 0, "")]
            return []
        if data[:4] in (b"\xfe\xed\xfe\xed", b"\xce\xce\xce\xce"):
            contents = jks_contents(data)
            if contents == "key":
                return [RawMatch("credential-file/java-keystore", 0, 0, _blob_secret(data))]
            name = path.rsplit("/", 1)[-1].lower()
            if contents == "certificates" or "cacerts" in name or "trust" in name:
                return []
            return [RawMatch("sensitive-file/java-keystore", 0, 0, "")]
        if data[:8] in KDBX_MAGIC:
            return [RawMatch("sensitive-file/keepass", 0, 0, "")]
        if fmt in _BINARY_FORMATS and data.strip() and not _is_path_like(data) and b"PRIVATE KEY" not in data:
            return [RawMatch(f"sensitive-file/{fmt}", 0, 0, "")]
        return []

    def _key_match(self, path: str, data: bytes, key: KeyBlock) -> RawMatch:
        secret = data[key.start : key.end].decode("utf-8", "replace")
        severity, note = judge_key(path, key.encrypted, key.truncated)
        return RawMatch("credential-file/private-key", key.start, key.end, secret, severity, note)

    def scan_member(self, entry: TarEntry) -> list[RawMatch]:
        """Tar members that are not content: a whiteout of a sensitive path is evidence; symlinks are not."""
        if entry.kind not in ("whiteout", "wh"):
            return []
        directory, _, name = entry.path.rstrip("/").rpartition("/")
        if name.startswith(".wh..wh."):
            return []  # opaque-directory marker: names nothing in particular
        if name.startswith(".wh."):
            name = name[len(".wh.") :]
        deleted = f"{directory}/{name}" if directory else name
        what = _sensitive_deleted(deleted)
        if what is None:
            return []
        return [RawMatch("sensitive-file/deleted", 0, 0, "", note=f"{deleted} ({what}) hidden by a whiteout")]


def _is_stand_in(fmt: str, value: str) -> bool:
    if fmt == "htpasswd":
        return not value.strip()  # hashes start with $apr1$, $2y$: not variables
    return is_placeholder(value) or is_documented_example(value) or is_secret_reference(value)
