"""Through the whole scan: a secret in a `.git` history or in a jar stored inside a jar is a finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.build import FileSpec, ImageSpec, LayerSpec, base_layer, write_image
from fixtures.buildfiles import git_dir_files, spring_boot_jar
from scanner.findings import reset_fingerprint_key
from scanner.scan import ScanOptions, run_scan

TOKEN = "ghp_" + "Gq7LmT2xWz9RkB4vNc8YdH1sJf6PaE3uKo0i"  # fake, built for these tests


@pytest.fixture(autouse=True)
def _fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGSCAN_FINGERPRINT_KEY", "test-key")
    reset_fingerprint_key()


def _scan(tmp_path: Path, files: list[tuple[str, bytes]], compression: str):  # type: ignore[no-untyped-def]
    spec = ImageSpec(
        layers=[
            base_layer(compression),
            LayerSpec([FileSpec("srv/" + p, c) for p, c in files], "COPY . /srv", compression),
        ]
    )
    target = tmp_path / "image.tar"
    write_image(spec, target, "oci-archive")
    return run_scan(ScanOptions(reference=str(target), jobs=1))


@pytest.mark.parametrize("packed", [False, True], ids=["loose", "packed"])
def test_a_token_deleted_from_a_copied_git_repo_is_found_in_its_history(tmp_path: Path, packed: bool) -> None:
    files = git_dir_files(tmp_path, b"GITHUB_TOKEN=" + TOKEN.encode(), packed)
    report = _scan(tmp_path, files, "gzip")
    hits = [f for f in report.findings if f.rule == "pattern/github-token"]
    assert hits and all(f.location.path.startswith("srv/.git/objects/") for f in hits)
    assert all(f.location.inner_path for f in hits)
    assert not [p for p in report.problems if p.inconclusive]


def test_a_token_in_a_jar_stored_in_an_executable_jar_is_found(tmp_path: Path) -> None:
    jar = spring_boot_jar(b"github.token=" + TOKEN.encode() + b"\n", launch_script=True)
    report = _scan(tmp_path, [("app.jar", jar)], "zstd")
    [hit] = [f for f in report.findings if f.rule == "pattern/github-token"]
    assert hit.location.path == "srv/app.jar"
    assert hit.location.inner_path == "app.jar!BOOT-INF/lib/config.jar!application.properties"
    assert TOKEN not in (hit.excerpt or "")
