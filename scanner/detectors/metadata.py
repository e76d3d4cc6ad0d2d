"""Image metadata as located strings: config, history, buildinfo, attestations, each whole document."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from typing import Any

from scanner.detectors.base import MetadataString
from scanner.image import HistoryEntry, Image, MetadataDocument

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
    yield from raw_documents(image)


def raw_documents(image: Image) -> Iterator[MetadataString]:
    """Each metadata document's whole text, for what the parsed values leave out: object keys, numbers,
    duplicate keys (JSON keeps the last), fields no walker knows (history `created`, rootfs extras)."""
    docs = [(doc.area, doc.where, _raw_text(doc)) for doc in image.metadata]
    if not any(area == "config" for area, _, _ in docs) and image.config:
        docs.insert(0, ("config", "config", json.dumps(image.config, ensure_ascii=False)))
    for area, where, text in docs:
        yield MetadataString(_DOC_KINDS.get(area, "config"), "(document)", text, where=where, raw=True)


def _raw_text(doc: MetadataDocument) -> str:
    # The bytes as the image holds them, where the source kept them; else the parsed document again.
    raw = getattr(doc, "raw", None)
    if isinstance(raw, bytes) and raw:
        return raw.decode("utf-8", "surrogateescape")
    return json.dumps(doc.data, ensure_ascii=False)


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
            for i, item in enumerate(value):
                if isinstance(item, str) and "=" in item:
                    name, _, val = item.partition("=")
                    yield MetadataString("config", f"{prefix}Env.{name}", val)
                elif isinstance(item, str):  # no `=`: not a variable, but still bytes of the image
                    yield MetadataString("config", f"{prefix}Env[{i}]", item)
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
INSTRUCTION = re.compile(r"^\s*(?:\S.*?#\(nop\)\s*)?(ENV|LABEL|ARG)\s+(.*)$", re.S)
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
    m = INSTRUCTION.match(entry.created_by)
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
