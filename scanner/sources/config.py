"""The image config: rootfs.diff_ids checked, history rows mapped to the layers they made."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from scanner.errors import FormatError
from scanner.image import HistoryEntry, Image, Layer, MetadataDocument, Platform, is_sha256_digest
from scanner.model import Problem


def config_problems(config: Any, config_label: str) -> tuple[dict[str, Any], list[str | None], list[Problem]]:
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


def diff_id_problems(layer_count: int, diff_ids: list[str | None]) -> list[Problem]:
    if layer_count == len(diff_ids):
        return []
    return [
        Problem(
            "config.rootfs",
            f"manifest lists {layer_count} layers but config rootfs.diff_ids lists {len(diff_ids)}",
        )
    ]


@dataclass(frozen=True)
class ImageHead:
    """What names an image: the reference it came from, its config and manifest digests, platform, tags."""

    reference: str
    id: str
    digest: str | None
    platform: Platform | None
    format: str
    repo_tags: tuple[str, ...]


def assemble(
    head: ImageHead,
    config: dict[str, Any],
    layers: list[Layer],
    metadata: list[MetadataDocument],
    problems: list[Problem],
) -> Image:
    """The image: each layer given the history row that made it, history anomalies added to `problems`."""
    history, history_problems = map_history(config.get("history"), len(layers))
    return Image(
        reference=head.reference,
        id=head.id,
        digest=head.digest,
        platform=head.platform,
        format=head.format,
        config=config,
        layers=with_history(layers, history),
        history=history,
        metadata=tuple(metadata),
        repo_tags=head.repo_tags,
        problems=problems + history_problems,
    )


def with_history(layers: list[Layer], history: tuple[HistoryEntry, ...]) -> tuple[Layer, ...]:
    """The layers, each with the history row that made it."""
    by_layer = {h.layer_index: h for h in history if h.layer_index is not None}
    return tuple(replace(layer, history=by_layer.get(layer.index)) for layer in layers)


def map_history(history_json: Any, layer_count: int) -> tuple[tuple[HistoryEntry, ...], list[Problem]]:
    """Give each non-empty history row the next layer, in order; report (never crash on) a mismatch."""
    problems: list[Problem] = []
    entries: list[HistoryEntry] = []
    rows = history_json if isinstance(history_json, list) else []
    next_layer = 0
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            problems.append(Problem(f"config.history[{i}]", "history row is not an object", False))
            row = {}
        empty = bool(row.get("empty_layer", False))
        layer_index: int | None = None
        if not empty:
            if next_layer < layer_count:
                layer_index = next_layer
            next_layer += 1
        entries.append(
            HistoryEntry(
                index=i,
                created_by=str(row.get("created_by", "")),
                empty_layer=empty,
                layer_index=layer_index,
                created=_str_or_none(row.get("created")),
                author=_str_or_none(row.get("author")),
                comment=_str_or_none(row.get("comment")),
            )
        )
    if rows and next_layer != layer_count:
        problems.append(
            Problem(
                "config.history",
                f"history names {next_layer} non-empty rows for {layer_count} layers; "
                "layer-to-history mapping may be off",
                False,
            )
        )
    return tuple(entries), problems


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
