"""Credentials in image metadata: credential-named keys, recorded command lines, URLs with userinfo."""

from __future__ import annotations

import re
from typing import ClassVar

from scanner.detectors.base import MetadataString, RawMatch, Rule
from scanner.detectors.credtext import command_line_credentials, url_credentials
from scanner.detectors.filters import (
    is_credential_name,
    is_documented_example,
    is_placeholder,
    is_secret_reference,
    is_url_placeholder_credential,
)
from scanner.detectors.metadata import INSTRUCTION, run_build_args
from scanner.findings import Severity

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

    family: ClassVar[str] = "metadata"
    rank: ClassVar[int] = 1
    version: ClassVar[str] = "2"
    rules: tuple[Rule, ...] = _rules()

    def scan_metadata(self, item: MetadataString) -> list[RawMatch]:
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
            if INSTRUCTION.match(item.value):
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
