"""Progress: a daemon's save moves the bar by the bytes that arrive; no bar, no watching."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pytest

from scanner.cli_output import ProgressBar
from scanner.progress import Progress, watch_save


def test_bytes_arriving_in_the_save_folder_are_reported_while_the_save_runs(tmp_path: Path) -> None:
    seen: list[Progress] = []
    lock = threading.Lock()

    def record(p: Progress) -> None:
        with lock:
            seen.append(p)

    with watch_save(tmp_path, record), (tmp_path / "save.tar").open("wb") as out:
        for _ in range(6):
            out.write(bytes(1 << 20))
            out.flush()
            time.sleep(0.15)
    with lock:
        grown = [p.bytes_done for p in seen]
    assert seen and all(p.phase == "save" and p.bytes_total is None for p in seen)
    assert grown == sorted(grown) and grown[-1] > 0


def test_without_a_progress_callback_nothing_watches(tmp_path: Path) -> None:
    before = threading.active_count()
    with watch_save(tmp_path, None):
        assert threading.active_count() == before


def test_the_bar_shows_the_save_phase_then_bytes_with_an_eta() -> None:
    out = io.StringIO()
    bar = ProgressBar(out)
    bar(Progress("save", 5_000_000, None, 0, 0))
    assert "save: 5.0 MB" in out.getvalue()
    bar._started -= 10  # ten seconds in, half done: an ETA appears
    bar._drawn = 0
    bar(Progress("scan", 50_000_000, 100_000_000, 1, 2))
    assert "50%" in out.getvalue() and "ETA 0:1" in out.getvalue()


def test_a_daemon_scan_reports_its_save_in_bytes_of_the_image_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wired through run_scan: while the (here simulated) save stream arrives, progress counts its bytes
    against the size `docker image inspect` gives, so the bar has an ETA from the start."""
    import scanner.sources.daemon
    from fixtures.build import tutorial_secure, write_image
    from scanner.scan import run_scan
    from scanner.settings import Settings
    from scanner.sources.archive import open_archive

    target = tmp_path / "img.tar"
    write_image(tutorial_secure(), target, "docker-archive")

    def slow_save(self: object, ref: object, workdir: Path, platform: object, on_blob: object) -> object:
        with (workdir / "save.tar").open("wb") as out:
            for _ in range(4):
                out.write(bytes(1 << 20))
                out.flush()
                time.sleep(0.2)
        return open_archive(target, workdir, "docker-daemon:fake/app:1")

    monkeypatch.setattr(scanner.sources.daemon.DaemonSource, "open", slow_save)
    monkeypatch.setattr(scanner.sources.daemon, "inspect", lambda name: {"Size": 4 << 20})
    seen: list[Progress] = []
    report = run_scan("docker-daemon:fake/app:1", Settings(jobs=1), seen.append)
    saves = [p for p in seen if p.phase == "save" and p.bytes_done > 0]
    assert report.verdict == "clean"
    assert saves and all(p.bytes_total == 4 << 20 for p in saves)
    assert seen[-1].phase == "scan"
