"""Run Go's archive/tar (tests/oracle/gotar) and TarStream on the same bytes and compare what they list."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from scanner.errors import LayerError
from scanner.tarstream import DIRTYPE, TarStream


@dataclass(frozen=True)
class Listed:
    """One entry as a reader reports it: name, type, size, link name and the hash of its data."""

    name: bytes
    type: int
    size: int
    linkname: bytes
    sha256: str


@dataclass(frozen=True)
class Listing:
    entries: tuple[Listed, ...]
    error: str | None  # None: a clean end of archive


def _norm_name(name: bytes, kind: int) -> bytes:
    # TarStream (like tarfile) gives directories without their trailing slash; Go keeps it.
    return name.rstrip(b"/") if kind == DIRTYPE[0] else name


def go_list(binary: Path, archives: list[bytes]) -> list[Listing]:
    """Go's listing of each archive, all in one process."""
    payload = b"".join(struct.pack(">Q", len(a)) + a for a in archives)
    done = subprocess.run([binary, "-batch"], input=payload, capture_output=True, timeout=120, check=True)
    listings: list[Listing] = []
    entries: list[Listed] = []
    for line in done.stdout.decode().splitlines():
        record = json.loads(line)
        if "end" in record:
            listings.append(Listing(tuple(entries), None if record["end"] == "EOF" else record["end"]))
            entries = []
            continue
        name = bytes.fromhex(record["name"])
        entries.append(
            Listed(
                _norm_name(name, record["type"]),
                record["type"],
                record["size"],
                bytes.fromhex(record["linkname"]),
                record["sha256"],
            )
        )
    assert len(listings) == len(archives)
    return listings


@dataclass(frozen=True)
class Ours:
    listing: Listing
    inconclusive: str | None  # why imgscan would not certify this stream (None: it reads it as certain)


def ours(data: bytes) -> Ours:
    """TarStream's listing; a LayerError, a sparse member or a missing end block makes it inconclusive."""
    tar = TarStream(io.BytesIO(data), chunk=4096)
    entries: list[Listed] = []
    why: str | None = None
    try:
        for entry in tar:
            digest = hashlib.sha256()
            while piece := tar.read(1000):
                digest.update(piece)
            if entry.sparse:
                why = "sparse member"
            name = entry.name.encode("utf-8", "surrogateescape")
            link = entry.linkname.encode("utf-8", "surrogateescape")
            entries.append(Listed(name, entry.type[0], entry.size, link, digest.hexdigest()))
    except LayerError as e:
        return Ours(Listing(tuple(entries), str(e)), str(e))
    if tar.eof_without_marker:
        why = why or "no end-of-archive block"
    return Ours(Listing(tuple(entries), None), why)


def agree(go: Listing, mine: Ours) -> str | None:
    """None if imgscan is safe on this stream: it says inconclusive, or it lists exactly what Go lists."""
    if mine.inconclusive == "no end-of-archive block" and go.error is None:
        return None if go.entries == mine.listing.entries else f"listings differ: {go} / {mine}"
    if mine.inconclusive is not None:
        return None
    if go.error is not None:
        return f"Go fails ({go.error}) where TarStream reads on: {mine.listing.entries}"
    if go.entries != mine.listing.entries:
        return f"listings differ:\n  go:   {go.entries}\n  ours: {mine.listing.entries}"
    return None
