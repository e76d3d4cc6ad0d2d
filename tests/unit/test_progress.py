"""Progress: a daemon's save moves the bar by the bytes that arrive; no bar, no watching."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

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
