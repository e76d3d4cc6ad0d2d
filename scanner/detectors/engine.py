"""The multi-pattern search every detector shares (Hyperscan, else Python `re`): one compiled database
per pattern set and process, serialisable, giving (pattern id, end offset) hits."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any


@cache
def _hyperscan() -> Any:
    """The hyperscan module, imported on first use (never for `imgscan --help`), or None."""
    try:
        import hyperscan
    except ImportError:  # pragma: no cover - exercised through use_hyperscan=False
        return None
    return hyperscan


def hyperscan_available() -> bool:
    return _hyperscan() is not None


@dataclass(frozen=True)
class Pattern:
    """A pattern in the syntax both engines share (no lookarounds, no \\s, bounded tails)."""

    regex: bytes
    caseless: bool = False


def literal_pattern(value: bytes) -> bytes:
    """A regex matching exactly `value`: bytes other than [A-Za-z0-9_] as \\xHH (NUL-safe in Hyperscan)."""
    out = bytearray()
    for b in value:
        if 48 <= b <= 57 or 65 <= b <= 90 or 97 <= b <= 122 or b == 95:
            out.append(b)
        else:
            out += b"\\x%02x" % b
    return bytes(out)


class Prefilter:
    """Scans a buffer once for every pattern; returns (pattern index, end offset) pairs sorted by offset.

    Hyperscan reports every end offset of every match; the `re` fallback reports the ends of non-overlapping
    matches. Callers only use hits to pick candidate lines, and a line holding a match yields at least one
    hit either way, so both engines select the same lines.
    """

    def __init__(self, patterns: Sequence[Pattern], use_hyperscan: bool | None = None) -> None:
        self.patterns = tuple(patterns)
        hs = _hyperscan()
        if use_hyperscan is None:
            use_hyperscan = hs is not None
        if use_hyperscan and hs is None:
            raise RuntimeError("hyperscan is not installed")
        self.engine = "hyperscan" if use_hyperscan else "re"
        self._db: Any = _database(self.patterns) if use_hyperscan and self.patterns else None
        self._scratch: Any = None
        self._scratch_pid = -1
        self._compiled: list[re.Pattern[bytes]] = []
        if not use_hyperscan:
            self._compiled = [
                re.compile(p.regex, re.MULTILINE | (re.IGNORECASE if p.caseless else 0))
                for p in self.patterns
            ]

    def serialize(self) -> bytes:
        """The compiled Hyperscan database as bytes (empty for the `re` engine), for an on-disk cache."""
        return bytes(_hyperscan().dumpb(self._db)) if self._db is not None else b""

    def _scratch_for_process(self) -> Any:
        # A database's scratch is not shareable across processes or threads: one per (forked) process.
        pid = os.getpid()
        if self._scratch is None or self._scratch_pid != pid:
            self._scratch = _hyperscan().Scratch(self._db)
            self._scratch_pid = pid
        return self._scratch

    def scan(self, data: bytes) -> list[tuple[int, int]]:
        """(pattern index, end offset) for every hit, sorted by end offset."""
        if not self.patterns or not data:
            return []
        hits: list[tuple[int, int]] = []
        if self._db is not None:
            append = hits.append

            def on_match(pid: int, start: int, end: int, flags: int, context: object) -> None:
                append((end, pid))

            self._db.scan(data, match_event_handler=on_match, scratch=self._scratch_for_process())
        else:
            for pid, rx in enumerate(self._compiled):
                hits.extend((m.end(), pid) for m in rx.finditer(data))
        hits.sort()
        return [(pid, end) for end, pid in hits]


@cache
def _database(patterns: tuple[Pattern, ...]) -> Any:
    """One compiled database per pattern set and process: every DetectorSet built in a process (the
    parent's, each worker's, the tests') shares it instead of compiling it again."""
    hs = _hyperscan()
    db = hs.Database(mode=hs.HS_MODE_BLOCK)
    db.compile(
        expressions=[p.regex for p in patterns],
        ids=list(range(len(patterns))),
        elements=len(patterns),
        flags=[hs.HS_FLAG_MULTILINE | (hs.HS_FLAG_CASELESS if p.caseless else 0) for p in patterns],
    )
    return db
