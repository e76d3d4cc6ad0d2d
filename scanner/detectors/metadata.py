"""Image metadata as located strings (config, history, buildinfo, attestations) and its credential rules."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from scanner.detectors.base import MetadataString, RawMatch, Rule
from scanner.detectors.credfiles import command_line_credentials, url_credentials
from scanner.detectors.filters import (
    is_credential_name,
    is_documented_example,
    is_placeholder,
    is_secret_reference,
    is_url_placeholder_credential,
)
from scanner.findings import Severity
from scanner.image import HistoryEntry, Image

# BuildKit writes .v1 (binfotypes.ImageConfigField); older releases and docs say .v0.
BUILDINFO_KEYS = ("moby.buildkit.buildinfo.v1", "moby.buildkit.buildinfo.v0")
_CONFIG_FIELDS = (
    "Env",
    "Labels",
    "Cmd",
    "Entrypoint",
    "Healthcheck",
    "OnBuild",
    "User",
    "WorkingDir",
    "Shell",
)
_DOC_KINDS = {"attestation": "attestation", "manifest": "manifest", "index": "manifest"}


# --- the producer -----------------------------------------------------------------------------------


def metadata_strings(image: Image) -> Iterator[MetadataString]:
    """Every string of the image's metadata, keyed so a reader can find it (Env.K, build-arg:K, Labels.k)."""
    config = image.config if isinstance(image.config, dict) else {}
    for top, value in config.items():
        if top in ("config", "container_config") and isinstance(value, dict):
            yield from _config_object(value, "" if top == "config" else "container_config.")
        elif top in BUILDINFO_KEYS:
            yield from _buildinfo(value, top, "config", "config " + top)
        elif top not in ("history", "rootfs"):  # history below; rootfs holds only diff_id digests
            yield from _walk(value, top, "config", None)
    for entry in image.history:
        yield from history_strings(entry)
    for doc in image.metadata:
        if doc.area == "config":
            continue  # the same document as image.config, walked above
        if doc.area == "buildinfo":
            yield from _buildinfo(doc.data, BUILDINFO_KEYS[0], "config", doc.where)
            continue
        yield from _walk(doc.data, "", _DOC_KINDS.get(doc.area, "config"), doc.where)


def metadata_areas(image: Image) -> list[str]:
    """Names of the metadata areas metadata_strings examined, for the report's `metadata_scanned`."""
    config = image.config if isinstance(image.config, dict) else {}
    areas = [f"config.{name}" for name in _CONFIG_FIELDS]
    areas += ["config.author", "config.comment", "config.other"]
    if isinstance(config.get("container_config"), dict):
        areas.append("container_config")
    areas.append("history")
    if any(key in config for key in BUILDINFO_KEYS) or any(d.area == "buildinfo" for d in image.metadata):
        areas.append("buildinfo")
    names = {
        "attestation": "attestations",
        "manifest": "manifest",
        "index": "index",
        "legacy-json": "legacy-json",
    }
    for doc in image.metadata:
        area = names.get(doc.area)
        if area and area not in areas:
            areas.append(area)
    return areas


def _config_object(obj: dict[str, Any], prefix: str) -> Iterator[MetadataString]:
    for field, value in obj.items():
        if field == "Env" and isinstance(value, list):
            for item in value:
                if isinstance(item, str):
                    name, _, val = item.partition("=")
                    yield MetadataString("config", f"{prefix}Env.{name}", val)
        elif field == "Labels" and isinstance(value, dict):
            for name, val in value.items():
                yield from _walk(val, f"{prefix}Labels.{name}", "config", None)
        else:
            yield from _walk(value, prefix + field, "config", None)


def _walk(value: Any, path: str, kind: str, where: str | None) -> Iterator[MetadataString]:
    """Every string under a JSON value; build-arg:/label: keys and env K=V lists get their own keys."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        node, here = stack.pop()
        if isinstance(node, str):
            yield MetadataString(kind, here, node, where=where)
        elif isinstance(node, dict):
            for key, child in node.items():
                key = str(key)
                if key.startswith("build-arg:"):
                    stack.append((child, key))
                elif key.startswith("label:"):
                    stack.append((child, "Labels." + key[len("label:") :]))
                elif key.lower() == "env" and isinstance(child, list):
                    for i, item in enumerate(child):
                        if isinstance(item, str) and "=" in item:
                            name, _, val = item.partition("=")
                            yield MetadataString(kind, f"{here}.Env.{name}".lstrip("."), val, where=where)
                        else:
                            stack.append((item, f"{here}.{key}[{i}]".lstrip(".")))
                else:
                    stack.append((child, f"{here}.{key}" if here else key))
        elif isinstance(node, list):
            for i, child in enumerate(node):
                stack.append((child, f"{here}[{i}]"))


def _buildinfo(value: Any, key: str, kind: str, where: str) -> Iterator[MetadataString]:
    """BuildKit's buildinfo: base64 JSON whose attrs hold build-arg:X (and label:X) values."""
    data = value
    if isinstance(value, str):
        yield MetadataString(kind, key, value, where=where)
        try:
            data = json.loads(base64.b64decode(value + "=" * (-len(value) % 4)))
        except (binascii.Error, ValueError):
            return
    yield from _walk(data, "buildinfo", kind, where)


# --- history rows ---------------------------------------------------------------------------------

_RUN_ARGS = re.compile(r"^\s*(?:RUN\s+)?\|(\d+)\s+", re.S)
_INSTRUCTION = re.compile(r"^\s*(?:\S.*?#\(nop\)\s*)?(ENV|LABEL|ARG)\s+(.*)$", re.S)
_ARG_NAME = re.compile(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=")
_LABEL_NAME = re.compile(r"(?:^|\s)([\"']?[\w./-]+[\"']?)=")


def history_strings(entry: HistoryEntry) -> Iterator[MetadataString]:
    """created_by (and author/comment), plus the build args, ENV and LABEL values it records."""

    def item(key: str, value: str) -> MetadataString:
        return MetadataString("history", key, value, entry.index, entry.layer_index)

    yield item("created_by", entry.created_by)
    for key, value in (("author", entry.author), ("comment", entry.comment)):
        if value:
            yield item(key, value)
    for name, value in run_build_args(entry.created_by)[0]:
        yield item(f"build-arg:{name}", value)
    m = _INSTRUCTION.match(entry.created_by)
    if m:
        instruction, rest = m.group(1), m.group(2).strip()
        prefix = {"ENV": "Env.", "LABEL": "Labels.", "ARG": "build-arg:"}[instruction]
        for name, value in _pairs(rest, _LABEL_NAME if instruction == "LABEL" else _ARG_NAME, None):
            yield item(prefix + name.strip("'\""), value)


def run_build_args(created_by: str) -> tuple[list[tuple[str, str]], int]:
    """The `|N K=V ...` build args of a RUN history row, and where the command after them starts."""
    m = _RUN_ARGS.match(created_by)
    if not m:
        return [], 0
    count = int(m.group(1))
    pairs = _pairs(created_by[m.end() :], _ARG_NAME, count)
    end = m.end()
    if pairs:
        last_value = pairs[-1][1]
        found = created_by.find(last_value, m.end())
        end = found + len(last_value) if found >= 0 else m.end()
    return pairs, end


def _pairs(text: str, name_re: re.Pattern[str], count: int | None) -> list[tuple[str, str]]:
    """Split `A=1 B=two words C=3` into pairs. With a count (RUN's |N), the last value stops at a space.

    Docker and BuildKit write these values unquoted, so a value with a space that looks like ` X=` is
    ambiguous; we take the first reading.
    """
    starts = list(name_re.finditer(text))
    if not starts and count is None and text:
        name, _, value = text.partition(" ")  # legacy `ENV NAME value`
        return [(name, _unquote(value.strip()))] if name else []
    if count is not None:
        starts = starts[:count]
    pairs: list[tuple[str, str]] = []
    for i, m in enumerate(starts):
        value_start = m.end()
        if i + 1 < len(starts):
            value = text[value_start : starts[i + 1].start()].strip()
        elif count is not None:
            value = _leading_word(text[value_start:])
        else:
            value = text[value_start:].strip()
        pairs.append((m.group(1), _unquote(value)))
    return pairs


def _leading_word(text: str) -> str:
    if text[:1] in "'\"":
        close = text.find(text[0], 1)
        if close > 0:
            return text[: close + 1]
    return text.split(maxsplit=1)[0] if text.strip() else ""


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


# --- the detector ---------------------------------------------------------------------------------

_FAMILIES = {
    "build-arg": ("a build argument", "Build arguments are recorded in the image history and provenance"),
    "env": ("an ENV variable", "ENV values are part of the image config and its history"),
    "label": ("a label", "Labels are part of the image config"),
    "config": ("the image config", "Every config field is readable by anyone who can pull the image"),
    "history": ("a RUN command line", "RUN command lines are recorded verbatim in the image history"),
    "attestation": ("a build attestation", "Provenance attestations (mode=max) record build parameters"),
}
_REMEDIATION = (
    "Pass it with `docker build --secret id=token,env=TOKEN` and read it in "
    "`RUN --mount=type=secret,id=token,env=TOKEN ...`, never as ARG/ENV/LABEL; rotate the leaked credential."
)
_COMMAND_FIELDS = re.compile(r"^(container_config\.)?(Cmd|Entrypoint|Healthcheck|OnBuild|Shell)\b")
_NOT_SECRETS = {"true", "false", "yes", "no", "on", "off", "enabled", "disabled", "required", "optional"}
_PLAIN_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^@\s]*$")


def _rules() -> tuple[Rule, ...]:
    rules = [
        Rule(
            f"metadata/{family}",
            "metadata",
            Severity.HIGH,
            f"Credential in {label}",
            f"{why}: a credential there is readable by anyone who can pull the image or read its provenance.",
            _REMEDIATION,
        )
        for family, (label, why) in _FAMILIES.items()
    ]
    rules.append(
        Rule(
            "metadata/url-credentials",
            "metadata",
            Severity.HIGH,
            "URL with credentials in image metadata",
            "A URL with a user:password (or token) part is stored in the image metadata.",
            _REMEDIATION,
        )
    )
    return tuple(rules)


def family(item: MetadataString) -> str:
    """Which metadata rule an item falls under, from its key and kind."""
    key = item.key
    if key.startswith("build-arg:"):
        return "build-arg"
    if key.startswith("Env.") or ".Env." in key:
        return "env"
    if key.startswith("Labels.") or ".Labels." in key:
        return "label"
    if item.kind == "attestation":
        return "attestation"
    if item.kind == "history":
        return "history"
    return "config"


def credential_name(item: MetadataString) -> str:
    """The name saying what the value is: K of build-arg:K / Env.K, a label's key, a JSON path's last key."""
    key = item.key
    if key.startswith("build-arg:"):
        return key[len("build-arg:") :]
    for marker in ("Env.", "Labels."):
        at = key.find(marker)
        if at == 0 or (at > 0 and key[at - 1] == "."):
            return key[at + len(marker) :]
    last = key.rsplit(".", 1)[-1]
    return re.sub(r"\[\d+\]$", "", last)


def _value_span(value: str) -> tuple[int, int]:
    start, end = 0, len(value)
    while start < end and value[start].isspace():
        start += 1
    while end > start and value[end - 1].isspace():
        end -= 1
    if end - start >= 2 and value[start] == value[end - 1] and value[start] in "'\"":
        start, end = start + 1, end - 1
    return start, end


def is_real_value(value: str) -> bool:
    v = value.strip()
    return bool(v) and not (
        v.lower() in _NOT_SECRETS
        or is_placeholder(v)
        or is_documented_example(v)
        or is_secret_reference(v)
        or _PLAIN_URL.match(v)
    )


class MetadataCredentialDetector:
    """Credential-named metadata keys with real values, credentials on recorded command lines, URLs."""

    rules: tuple[Rule, ...] = _rules()

    def scan_metadata(self, item: MetadataString) -> Iterable[RawMatch]:
        value = item.value
        rule = f"metadata/{family(item)}"
        if is_credential_name(credential_name(item)):
            start, end = _value_span(value)
            if is_real_value(value[start:end]):
                return [RawMatch(rule, start, end, value[start:end])]
            return []
        out: list[RawMatch] = []
        command_start = self._command_start(item)
        if command_start is not None:
            for cred in command_line_credentials(value[command_start:]):
                start, end = cred.start + command_start, cred.end + command_start
                if cred.field.startswith("url-"):
                    continue  # reported below as url-credentials
                if is_real_value(cred.value):
                    out.append(RawMatch(rule, start, end, cred.value))
        for cred in url_credentials(value):
            user, password = _url_userinfo(value, cred.start, cred.end, cred.field)
            if is_url_placeholder_credential(user, password) or not is_real_value(cred.value):
                continue
            if not any(cred.start < m.end and m.start < cred.end for m in out):
                out.append(RawMatch("metadata/url-credentials", cred.start, cred.end, cred.value))
        return out

    @staticmethod
    def _command_start(item: MetadataString) -> int | None:
        """Where a command line starts in the value, or None when the item is not a command line."""
        if item.kind == "history" and item.key == "created_by":
            if _INSTRUCTION.match(item.value):
                return None  # ENV/LABEL/ARG rows: their pairs are items of their own
            return run_build_args(item.value)[1]
        if item.kind == "config" and _COMMAND_FIELDS.match(item.key):
            return 0
        if item.kind == "attestation" and "args" in item.key.lower():
            return 0
        return None


def _url_userinfo(value: str, start: int, end: int, field: str) -> tuple[str, str]:
    """(user, password) around a url_credentials span."""
    if field == "url-user":
        rest = value[end + 1 :]
        return value[start:end], rest.split("@", 1)[0]
    head = value[:start]
    user = head[head.rfind("/") + 1 : -1] if head.endswith(":") else ""
    return user, value[start:end]
