"""The scan pipeline's own logic: excerpts, one finding per secret (files and metadata), the layer cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.build import EmptyStep, ImageSpec, base_layer, tutorial_insecure, write_image
from scanner.collect import excerpt_around
from scanner.detectors import one_per_secret
from scanner.detectors.base import RawMatch
from scanner.findings import Severity, reset_fingerprint_key
from scanner.scan import run_scan
from scanner.settings import Settings

TOKEN = "ghp_" + "Fx9k2LmQ7rTz4WbN8vYc1HdJ6sPa3GeU0oKi"  # fake, built for these tests


@pytest.fixture(autouse=True)
def _fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGSCAN_FINGERPRINT_KEY", "test-key")
    reset_fingerprint_key()


def test_excerpt_masks_the_secret_and_every_other_secret_on_the_line() -> None:
    data = b"first line\nexport A=" + TOKEN.encode() + b" B=hunter2hunter2 # note\nlast\n"
    a = data.index(TOKEN.encode())
    b = data.index(b"hunter2hunter2")
    m1 = RawMatch("pattern/github-token", a, a + len(TOKEN), TOKEN)
    m2 = RawMatch("pattern/keyword", b, b + 14, "hunter2hunter2")
    text = excerpt_around(data, m1, [m1, m2])
    assert TOKEN not in text and "hunter2hunter2" not in text
    assert text.startswith("export A=ghp_")
    assert "first line" not in text and "last" not in text


def test_excerpt_of_a_multi_line_secret_shows_no_part_of_its_body() -> None:
    body = "MIIEogIBAAKCAQEA6yCv+BLrRP/dMPBXJWK21c0aqxIX6JkODL4K+zlyEURt8/Wp"
    key = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n{body}\n-----END RSA PRIVATE KEY-----"
    data = b"x = 1\n" + key.encode() + b"\n"
    start = data.index(b"-----BEGIN")
    m = RawMatch("credential-file/private-key", start, start + len(key), key)
    text = excerpt_around(data, m, [m])
    assert body[:20] not in text
    assert "*****" in text


def test_binary_bytes_in_an_excerpt_are_made_printable() -> None:
    data = b"\x00\x01\x02token=" + TOKEN.encode() + b"\x00\xff"
    start = data.index(TOKEN.encode())
    m = RawMatch("pattern/github-token", start, start + len(TOKEN), TOKEN)
    text = excerpt_around(data, m, [m])
    assert all(ch.isprintable() for ch in text)
    assert TOKEN not in text


def test_one_finding_per_secret_prefers_the_most_specific_family() -> None:
    cred = RawMatch("credential-file/private-key", 10, 200, "k")
    pattern = RawMatch("pattern/private-key", 10, 180, "k")
    entropy = RawMatch("entropy/base64", 50, 90, "k2")
    known = RawMatch("known-secret", 10, 200, "k", known_secret_id="x")
    other = RawMatch("pattern/github-token", 300, 340, TOKEN)
    kept = one_per_secret([pattern, entropy, cred, known, other])
    assert sorted(m.rule for m in kept) == [
        "credential-file/private-key",
        "known-secret",
        "pattern/github-token",
    ]


def _signature(report: object) -> list[tuple[object, ...]]:
    return sorted(
        (f.rule, f.location.layer_index or -1, f.location.path or "", f.status, f.fingerprint, f.excerpt)
        for f in report.findings  # type: ignore[attr-defined]
    )


def test_second_scan_answers_every_layer_from_the_cache_with_the_same_findings(tmp_path: Path) -> None:
    target = tmp_path / "img.tar"
    write_image(tutorial_insecure("cache-test-pw-9", compression="gzip"), target, "docker25-archive")
    cache = tmp_path / "cache"
    first = run_scan(str(target), Settings(jobs=1, cache_dir=cache))
    second = run_scan(str(target), Settings(jobs=1, cache_dir=cache))
    assert {layer.status for layer in first.layers} == {"scanned"}
    assert {layer.status for layer in second.layers} == {"cached"}
    assert _signature(first) == _signature(second)
    assert [(la.files, la.bytes, la.whiteouts) for la in first.layers] == [
        (la.files, la.bytes, la.whiteouts) for la in second.layers
    ]
    for entry in cache.rglob("*.json"):
        assert "cache-test-pw-9" not in entry.read_text()


def test_corrupt_or_foreign_cache_entries_are_ignored_and_the_layer_is_scanned(tmp_path: Path) -> None:
    target = tmp_path / "img.tar"
    write_image(tutorial_insecure("cache-test-pw-9"), target, "docker-archive")
    cache = tmp_path / "cache"
    first = run_scan(str(target), Settings(jobs=1, cache_dir=cache))
    entries = sorted(cache.rglob("*.json"))
    assert entries
    entries[0].write_text("{not json")
    for entry in entries[1:]:
        doc = json.loads(entry.read_text())
        doc["value"]["hits"] = [{"rule": "made-up"}]  # planted: fails to decode
        entry.write_text(json.dumps(doc))
    again = run_scan(str(target), Settings(jobs=1, cache_dir=cache))
    assert {layer.status for layer in again.layers} == {"scanned"}
    assert _signature(first) == _signature(again)


def test_a_cached_result_is_not_used_for_different_bytes_claiming_the_same_diff_id(tmp_path: Path) -> None:
    clean = tmp_path / "clean.tar"
    write_image(tutorial_insecure("cache-test-pw-9"), clean, "docker-archive")
    cache = tmp_path / "cache"
    run_scan(str(clean), Settings(jobs=1, cache_dir=cache))
    # Same archive, a layer's bytes changed in place, its declared diff_id kept: the cache must not vouch.
    data = bytearray(clean.read_bytes())
    at = data.find(b"cache-test-pw-9")
    data[at : at + 5] = b"CACHE"
    tampered = tmp_path / "tampered.tar"
    tampered.write_bytes(bytes(data))
    report = run_scan(str(tampered), Settings(jobs=1, cache_dir=cache))
    layer1 = report.layers[1]
    assert layer1.status == "unreadable"  # read again, and its digest mismatch is reported
    assert any("digest" in p.what for p in layer1.problems)


def test_overlapping_values_of_one_known_secret_give_one_match_the_longest() -> None:
    whole = RawMatch("known-secret", 0, 48, "whole file", known_secret_id="netrc")
    password = RawMatch("known-secret", 38, 48, "password", known_secret_id="netrc")
    other_secret = RawMatch("known-secret", 38, 48, "password", known_secret_id="token")
    kept = one_per_secret([password, whole, other_secret])
    assert kept == [whole, other_secret]


def test_a_secret_that_began_on_an_earlier_line_is_masked_without_a_prefix() -> None:
    data = b"machine 127.0.0.1\nlogin admin\npassword hunter2hunter2\n"
    whole = RawMatch("known-secret", 0, len(data), data.decode(), known_secret_id="netrc")
    at = data.index(b"hunter2hunter2")
    cred = RawMatch("credential-file/netrc", at, at + 14, "hunter2hunter2")
    text = excerpt_around(data, cred, [whole, cred])
    assert text == "*****"
    assert "mach" not in text


def test_files_scanned_by_worker_processes_give_the_same_report_as_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fixtures.vectors import rich_vector, write_vector
    from scanner import parallel, scan

    target = write_vector(rich_vector(7), tmp_path / "rich.tar")
    one = run_scan(str(target), Settings(jobs=1))
    monkeypatch.setattr(scan, "POOL_MIN_BYTES", 0)  # workers even for this small image
    started: list[int] = []
    real_pool = parallel.pool
    monkeypatch.setattr(parallel, "pool", lambda jobs, d: started.append(jobs) or real_pool(jobs, d))
    two = run_scan(str(target), Settings(jobs=2))
    assert started == [2]
    assert _signature(one) and _signature(one) == _signature(two)
    assert [(la.files, la.bytes, la.status) for la in one.layers] == [
        (la.files, la.bytes, la.status) for la in two.layers
    ]


def test_a_small_image_starts_no_worker_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Forking workers costs more than scanning a few MB: a CI gate on a small image stays in one process."""
    from fixtures.vectors import rich_vector, write_vector
    from scanner import parallel

    target = write_vector(rich_vector(7), tmp_path / "rich.tar")
    started: list[int] = []
    monkeypatch.setattr(parallel, "pool", lambda jobs, d: started.append(jobs))
    report = run_scan(str(target), Settings(jobs=2))
    assert report.verdict and started == []


def test_an_unexpected_exception_is_reported_without_its_message_unless_debugging(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scanner.collect import bug_text

    exc = ValueError(f"could not parse {TOKEN}")
    monkeypatch.delenv("IMGSCAN_DEBUG", raising=False)
    assert TOKEN not in bug_text(exc) and bug_text(exc).startswith("ValueError")
    monkeypatch.setenv("IMGSCAN_DEBUG", "1")
    assert TOKEN in bug_text(exc)


# --- metadata: one finding per secret, the strongest ------------------------------------------------


class _StubDetectors:
    """Two rules matching the same metadata secret: a MEDIUM keyword-style one and a HIGH token one."""

    def __init__(self) -> None:
        from scanner.detectors.base import Rule

        self.rules = {
            "metadata/env": Rule("metadata/env", "metadata", Severity.MEDIUM, "env", "h", "fix"),
            "pattern/aws-access-key": Rule(
                "pattern/aws-access-key", "credential", Severity.HIGH, "aws", "h", "f"
            ),
        }
        self.severities = {rule_id: rule.severity for rule_id, rule in self.rules.items()}

    def rule(self, rule_id: str) -> object:
        return self.rules[rule_id]

    def scan_metadata(self, item: object) -> list[RawMatch]:
        value = item.value  # type: ignore[attr-defined]
        at = value.find("AKIA")
        if at < 0:
            return []
        secret = value[at : at + 20]
        return [
            RawMatch("metadata/env", at, at + 20, secret),
            RawMatch("pattern/aws-access-key", at, at + 20, secret),
        ]


def test_metadata_deduplication_never_drops_a_higher_severity_for_a_lower_one() -> None:
    from scanner.image import Image
    from scanner.metadata_scan import scan_metadata

    aws = "AKIA" + "Q7RZ2XK5W3N8M4PT"  # fake
    image = Image(
        "img",
        "sha256:" + "0" * 64,
        None,
        None,
        "docker-archive",
        {"config": {"Env": [f"PASSWORD=AWS_ACCESS_KEY_ID={aws}"]}},
        (),
        (),
    )
    meta = scan_metadata(_StubDetectors(), 0, image)  # type: ignore[arg-type]
    assert [(f.rule, f.severity) for f in meta.findings] == [("pattern/aws-access-key", Severity.HIGH)]


def test_an_env_secret_is_one_finding_not_one_for_the_config_and_one_for_its_history_row(
    tmp_path: Path,
) -> None:

    token = "glpat-" + "Xq8Zr2Mv9Tn4Kw7Pb3Ld"  # fake
    spec = ImageSpec([base_layer(), EmptyStep(f"ENV GITLAB_TOKEN={token}")], env=[f"GITLAB_TOKEN={token}"])
    target = tmp_path / "img.tar"
    write_image(spec, target, "docker-archive")
    report = run_scan(str(target), Settings(jobs=1))
    (only,) = [f for f in report.findings if f.location.kind in ("config", "history")]
    assert (only.location.kind, only.location.key) == ("config", "Env.GITLAB_TOKEN")
    # the history line beside the layer still has the value masked
    assert all(token not in (la.created_by or "") for la in report.layers)


def test_progress_reports_layers_and_stored_bytes_up_to_the_total(tmp_path: Path) -> None:
    from scanner.progress import Progress

    target = tmp_path / "img.tar"
    write_image(tutorial_insecure("progress-pw-1", compression="gzip"), target, "docker25-archive")
    seen: list[Progress] = []
    report = run_scan(str(target), Settings(jobs=1), seen.append)
    scans = [p for p in seen if p.phase == "scan" and p.layers_total]
    assert scans[-1].layers_done == scans[-1].layers_total == len(report.layers)
    assert scans[-1].bytes_total is not None and scans[-1].bytes_done == scans[-1].bytes_total > 0
    done = [p.bytes_done for p in scans]
    assert done == sorted(done) and done[0] == 0
