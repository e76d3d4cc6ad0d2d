"""The multi-pattern search detectors share (Hyperscan, else `re`): one database, one pass per buffer."""

from __future__ import annotations

import os
import re
import threading
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
        self._db: Any = None  # compiled on first use: a prefilter joined into a SharedScan never is
        self._local = threading.local()  # per thread: hyperscan scratch space is not shareable
        self._compiled: list[re.Pattern[bytes]] = []
        self._shared: tuple[SharedScan, int] | None = None

    def serialize(self) -> bytes:
        """The compiled Hyperscan database as bytes (empty for the `re` engine), for an on-disk cache."""
        return (
            bytes(_hyperscan().dumpb(self._database()))
            if self.engine == "hyperscan" and self.patterns
            else b""
        )

    def load(self, blob: bytes) -> None:
        """Use a database `serialize` wrote for the same patterns instead of compiling one."""
        hs = _hyperscan()
        self._db = hs.loadb(blob, hs.HS_MODE_BLOCK)

    def _database(self) -> Any:
        if self._db is None:
            self._db = _database(self.patterns)
        return self._db

    def _scratch(self) -> Any:
        # A database's scratch is not shareable across threads or (forked) processes: one for each.
        pid = os.getpid()
        mine = getattr(self._local, "scratch", None)
        if mine is None or mine[0] != pid:
            mine = self._local.scratch = (pid, _hyperscan().Scratch(self._database()))
        return mine[1]

    def scan(self, data: bytes) -> list[tuple[int, int]]:
        """(pattern index, end offset) for every hit, sorted by end offset."""
        if not self.patterns or not data:
            return []
        if self._shared is not None:
            shared, index = self._shared
            return shared.hits(data, index)
        hits: list[tuple[int, int]] = []
        if self.engine == "hyperscan":
            append = hits.append

            def on_match(pid: int, start: int, end: int, flags: int, context: object) -> None:
                append((end, pid))

            self._database().scan(data, match_event_handler=on_match, scratch=self._scratch())
        else:
            if not self._compiled:
                flags = [re.MULTILINE | (re.IGNORECASE if p.caseless else 0) for p in self.patterns]
                self._compiled = [re.compile(p.regex, f) for p, f in zip(self.patterns, flags, strict=True)]
            for pid, rx in enumerate(self._compiled):
                hits.extend((m.end(), pid) for m in rx.finditer(data))
        hits.sort()
        return [(pid, end) for end, pid in hits]


class SharedScan:
    """Several detectors' prefilters as one database: one pass over a buffer serves all of them.

    Each joined Prefilter keeps its interface; the first of them to scan a buffer scans it for every
    pattern, and each gets its share of that pass (the buffer is recognised by identity). A pinned buffer
    (the window every detector scans) stays answered while detectors scan others (a binary's UTF-16
    half-views, decoded values) in between.
    """

    def __init__(self, prefilters: Sequence[Prefilter]) -> None:
        joined = [p for p in prefilters if p.patterns]
        engines = {p.engine for p in joined}
        if len(engines) > 1:
            raise ValueError("prefilters of different engines cannot share a database")
        hyperscan = engines == {"hyperscan"}
        self.prefilter = Prefilter([pat for p in joined for pat in p.patterns], use_hyperscan=hyperscan)
        self._owner: list[tuple[int, int]] = []  # combined pattern id -> (prefilter index, its own id)
        for index, p in enumerate(joined):
            p._shared = (self, index)
            self._owner.extend((index, pid) for pid in range(len(p.patterns)))
        self._count = len(joined)
        # Per thread (a layer walked in a thread while another is scanned), and holding the buffers it
        # remembers, so no other buffer can take their identity.
        self._local = threading.local()

    def _split(self, data: bytes) -> list[list[tuple[int, int]]]:
        shares: list[list[tuple[int, int]]] = [[] for _ in range(self._count)]
        owner = self._owner
        for pid, end in self.prefilter.scan(data):
            index, own = owner[pid]
            shares[index].append((own, end))
        return shares

    def pin(self, data: bytes) -> None:
        """Scan `data` now and keep its hits until the next pin."""
        self._local.pinned = (data, self._split(data))

    def hits(self, data: bytes, index: int) -> list[tuple[int, int]]:
        """Joined prefilter `index`'s hits in `data` (its own pattern ids), from one pass over `data`."""
        for slot in ("pinned", "last"):
            seen = getattr(self._local, slot, None)
            if seen is not None and seen[0] is data:
                return seen[1][index]  # type: ignore[no-any-return]
        self._local.last = (data, self._split(data))
        return self._local.last[1][index]  # type: ignore[no-any-return]


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
