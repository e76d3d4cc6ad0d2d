"""The metadata scan of one image: every config, history and attestation string, one finding per secret."""

from __future__ import annotations

from scanner.assemble import metadata_finding
from scanner.detectors import DetectorSet, best_metadata_matches
from scanner.detectors.metadata import metadata_areas, metadata_strings
from scanner.findings import redact_text
from scanner.image import Image
from scanner.model import ImageMetadata


def _is_env_or_label(key: str) -> bool:
    return key.removeprefix("container_config.").startswith(("Env.", "Labels."))


def scan_metadata(detectors: DetectorSet, image_index: int, image: Image) -> ImageMetadata:
    """One finding per secret and kind of place, the strongest (highest severity, then the most specific
    rule; legacy saves mirror the config in <id>/json); an ENV or LABEL value is one finding, at the
    config, not a second one for the history row that set it. History lines come back with every secret
    found in them masked."""
    pairs = [(item, m) for item in metadata_strings(image) for m in detectors.scan_metadata(item)]
    found = {m.secret for _, m in pairs}
    history_secrets: dict[int, list[str]] = {}
    for item, m in pairs:
        if item.kind == "history" and item.history_index is not None:
            history_secrets.setdefault(item.history_index, []).append(m.secret)
    best = best_metadata_matches(pairs, detectors.severities)
    live = {
        (m.secret, m.known_secret_id is not None)
        for item, m in best
        if item.kind == "config" and _is_env_or_label(item.key)
    }
    kept = [
        (item, m)
        for item, m in best
        if item.kind != "history" or (m.secret, m.known_secret_id is not None) not in live
    ]
    # A whole document's excerpt may show other secrets found in it: each is masked in every excerpt.
    findings = [metadata_finding(detectors.rule(m.rule), image_index, item, m, found) for item, m in kept]
    created_by: dict[int, str] = {}
    for layer in image.layers:
        if layer.history is not None:
            # The history line is shown beside every layer: it must not repeat a secret found in it.
            secrets = history_secrets.get(layer.history.index, [])
            # `docker import` rows have no command, only a comment ("Imported from -").
            line = layer.history.created_by or layer.history.comment or ""
            created_by[layer.index] = redact_text(line, secrets, limit=10_000)
    return ImageMetadata(findings, list(metadata_areas(image)), created_by)
