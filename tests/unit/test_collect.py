"""The walker's visitor: matches become Hits that carry no secret, one per secret and file."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.collect import Collector, bug_text, failed, scan_layer, walk_safely
from scanner.detectors import DetectorSet
from scanner.layer import Limits
from tests.unit.layerfix import make_layer, sha, tar_bytes

pytestmark = pytest.mark.usefixtures("fixed_key")
TOKEN = "ghp_" + "Fx9k2LmQ7rTz4WbN8vYc1HdJ6sPa3GeU0oKi"  # fake


def test_hits_are_located_and_hold_no_secret(tmp_path: Path, detectors: DetectorSet) -> None:
    blob = tar_bytes([("app/", None), ("app/run.sh", f"A=1\nexport GITHUB_TOKEN={TOKEN}\n")])
    outcome = scan_layer(make_layer(tmp_path, blob, diff_id=sha(blob), compressed=False), Limits(), detectors)
    assert outcome.summary.complete
    (hit,) = [h for h in outcome.hits if h.rule == "pattern/github-token"]
    assert (hit.path, hit.inner_path, hit.line) == ("app/run.sh", None, 2)
    assert TOKEN not in repr(hit)
    assert hit.file_md5 and hit.file_sha256  # a whole file: digests for vendor triage


def test_the_same_secret_twice_in_one_file_is_one_hit_at_its_first_place(
    tmp_path: Path, detectors: DetectorSet
) -> None:
    blob = tar_bytes([("a.sh", f"X={TOKEN}\nY={TOKEN}\n"), ("b.sh", f"Z={TOKEN}\n")])
    outcome = scan_layer(make_layer(tmp_path, blob), Limits(), detectors)
    lines = sorted((h.path, h.line) for h in outcome.hits if h.rule == "pattern/github-token")
    assert lines == [("a.sh", 1), ("b.sh", 1)]


def test_a_secret_across_two_windows_is_found_once_with_its_line(
    tmp_path: Path, detectors: DetectorSet
) -> None:
    filler = b"x = 1\n" * 3000  # 18000 bytes: the token straddles the first window's end
    blob = tar_bytes([("big.txt", filler + f"T={TOKEN}\n".encode())])
    limits = Limits(window=18004, overlap=4096)
    outcome = scan_layer(make_layer(tmp_path, blob), limits, detectors)
    hits = [h for h in outcome.hits if h.rule == "pattern/github-token"]
    assert [h.line for h in hits] == [3001]


def test_package_manifests_are_collected_while_walking(tmp_path: Path, detectors: DetectorSet) -> None:
    md5sums = b"0123456789abcdef0123456789abcdef  usr/lib/x.so\n"
    blob = tar_bytes([("var/lib/dpkg/info/libx1:amd64.md5sums", md5sums)])
    collector = Collector(detectors, 0)
    walk_safely(make_layer(tmp_path, blob), Limits(), collector)
    assert collector.packaged["usr/lib/x.so"].package == "Debian package libx1"


def test_a_bug_in_the_walk_is_an_unread_layer_never_a_clean_one(
    tmp_path: Path, detectors: DetectorSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scanner.collect

    def broken(*_: object) -> None:
        raise RuntimeError(f"parser choked on {TOKEN}")

    monkeypatch.setattr(scanner.collect, "walk_layer", broken)
    monkeypatch.delenv("IMGSCAN_DEBUG", raising=False)
    summary = walk_safely(make_layer(tmp_path, tar_bytes([("a", b"1")])), Limits(), Collector(detectors, 3))
    assert not summary.complete
    (problem,) = summary.problems
    assert problem.inconclusive and problem.where == "layer 0" and TOKEN not in problem.what
    assert failed(1, "x").problems[0].where == "layer 1"
    assert bug_text(ValueError(TOKEN)).startswith("ValueError")
