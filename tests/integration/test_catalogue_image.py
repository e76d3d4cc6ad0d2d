"""Every catalogue rule's fake tokens, one per file in one image layer: all found, at the rule's severity."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from fixtures.build import FileSpec, ImageSpec, LayerSpec, base_layer, write_image
from scanner.detectors.base import Content
from scanner.detectors.catalogue import CatalogueDetector, ProviderRule, load_catalogue
from scanner.detectors.patterns import RULES as PATTERN_RULES
from scanner.findings import Finding
from tests.integration.conftest import describe, scan


def test_every_generated_token_in_an_image_layer_is_found_at_its_rules_severity(tmp_path: Path) -> None:
    files: dict[str, tuple[ProviderRule, str]] = {
        f"srv/tokens/{r.provider}/{r.kind}-{i}.txt": (r, line)
        for r in load_catalogue()
        for i, line in enumerate(r.positives)
    }
    layer = LayerSpec(
        [FileSpec(path, (line + "\n").encode()) for path, (_, line) in files.items()],
        "COPY tokens /srv/tokens # buildkit",
    )
    write_image(ImageSpec([base_layer(), layer]), tmp_path / "tokens.tar", "docker-archive")
    report = scan(tmp_path / "tokens.tar")
    by_path: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        by_path[f.location.path or ""].append(f)
    detector = CatalogueDetector()
    missed: list[str] = []
    other_rule: list[str] = []
    for path, (rule, line) in files.items():
        found = by_path.get(path, [])
        data = line.encode()
        secrets = {
            m.secret for m in detector.scan_content(Content(path, None, data, 0, len(data), True, True))
        }
        assert secrets and not any(s in f.excerpt for s in secrets for f in found), f"{path}: not redacted"
        assert all(f.location.layer_index == 1 for f in found)
        # At the rule's severity, or above where an older rule rates the same bytes higher (a low PostHog
        # project key in `API_KEY=` is also detect-secrets' medium keyword finding).
        if not any(f.severity >= rule.severity for f in found):
            missed.append(f"{path} ({rule.id}, {rule.severity.label}):\n{describe(found)}")
        elif not any(f.rule == rule.id for f in found):
            other_rule.extend(f.rule for f in found if f.severity >= rule.severity)
    assert not missed, "\n".join(missed)
    # Where a pattern rule older than the catalogue (detect-secrets' plugins, rules_extra) covers the same
    # bytes at the same severity, its id stays: one finding per secret, and ids that baselines know.
    assert set(other_rule) <= {r.id for r in PATTERN_RULES}, set(other_rule)
    assert report.verdict == "findings"
