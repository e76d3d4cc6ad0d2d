"""How far a scan is: the progress record, and the watch that turns a daemon's arriving save into bytes."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Progress:
    """How far a scan is, for a byte-based progress bar with an ETA."""

    phase: str  # "save": the source is still delivering the image; "scan": layers are being scanned
    bytes_done: int  # stored bytes of the layers finished (scanned or answered from the cache)
    bytes_total: int | None  # stored bytes of every layer; None until the source has said them all
    layers_done: int
    layers_total: int


ProgressFn = Callable[[Progress], None]
_POLL_S = 0.25


@contextmanager
def watch_save(folder: Path, progress: ProgressFn | None, expected: int | None = None) -> Iterator[None]:
    """While a source writes an image into `folder` (a daemon's `docker save` stream), report the bytes that
    have arrived (of about `expected`, when known), so a terminal's progress moves during the save too."""
    if progress is None:
        yield
        return
    stop = threading.Event()

    def report() -> None:
        while not stop.wait(_POLL_S):
            progress(Progress("save", _bytes_in(folder), expected, 0, 0))

    thread = threading.Thread(target=report, name="imgscan-save-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _bytes_in(folder: Path) -> int:
    total = 0
    try:
        for entry in folder.iterdir():
            if entry.is_file():
                total += entry.stat().st_size
    except OSError:
        pass  # the folder is going away: the scan is ending
    return total
