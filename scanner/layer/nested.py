"""Nested archives: one opener per kind (zip, tar, git pack, every compression), all charged to one budget."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from scanner.decompress import Prefixed, Readable, open_compressed, read_up_to
from scanner.errors import LayerError
from scanner.layer import gitpack, zips
from scanner.layer.level import Walk
from scanner.layer.limits import Budget, Counted
from scanner.layer.members import Member
from scanner.sniff import COMPRESSIONS, HEAD, is_tar

_WEAK = frozenset(
    ("zlib", "lzma")
)  # sniffed by a few bytes only: a stream that does not start to decode is no archive


def open_kind(
    walk: Walk,
    member: Member,
    kind: str,
    stream: Readable,
    data: bytes | None,
    depth: int,
    budget: Budget,
    token: object,
) -> bool:
    """Walk the archive of `kind` that `member` holds; False when it turned out not to be one."""
    if kind in ("zip", "zip?"):
        with _seekable(walk, member, stream, data) as fileobj:
            if fileobj is None:
                return False
            return zips.walk_zip(walk, member, fileobj, depth, budget, tentative=kind == "zip?")
    if kind == "gitpack":
        with _seekable(walk, member, stream, data) as fileobj:
            if fileobj is not None:
                gitpack.walk_pack(walk, member, fileobj, depth, budget)
            return fileobj is not None
    if kind == "tar":
        walk.walk_tar(stream, member, depth, budget, token, scan_rest=False)
        return True
    if kind in COMPRESSIONS:
        return _decompressed(walk, member, kind, stream, depth, budget, token)
    raise ValueError(f"unknown nested archive kind {kind!r}")


@contextmanager
def _seekable(walk: Walk, member: Member, stream: Readable, data: bytes | None) -> Iterator[IO[bytes] | None]:
    """The archive's bytes where an opener can seek: in memory, or spooled to the scan's temp dir."""
    if data is not None:
        yield io.BytesIO(data)
        return
    if walk.limits.spool_dir is None:
        walk.problem(
            walk.where_of(member), "nested archive larger than the content window not opened: no spool dir"
        )
        yield None
        return
    with tempfile.TemporaryFile(dir=walk.limits.spool_dir, prefix="imgscan-nested-") as spool:
        while chunk := stream.read(walk.limits.window):
            spool.write(chunk)
        spool.seek(0)
        yield spool


def _decompressed(
    walk: Walk, member: Member, kind: str, stream: Readable, depth: int, budget: Budget, token: object
) -> bool:
    decoder = open_compressed(kind, stream)
    counted = Counted(decoder, budget)
    try:
        head = read_up_to(counted, HEAD)
    except LayerError:
        if kind in _WEAK:
            return False
        raise
    if not head and kind in _WEAK:
        return False
    inner = Prefixed(head, counted)
    if is_tar(head):
        # A tgz: walk the tar inside directly rather than as one more level; what follows its end is scanned.
        walk.walk_tar(inner, member, depth, budget, token, scan_rest=True)
    else:
        name = decompressed_name(member.inner_path or member.path)
        child = walk.child(member, name, "file", -1, member.mode, escapes=member.escapes_root)
        walk.visitor.member(child)
        walk.summary.nested_files += 1
        walk.scan_data(child, inner, None, depth, budget, token)
    walk.side_data(decoder, member)
    return True


def decompressed_name(label: str) -> str:
    """The name a decompressed file goes by: `dump.sql` for `dump.sql.gz`, `x.tar` for `x.tgz`."""
    base = label.rsplit("!", 1)[-1].rsplit("/", 1)[-1]
    for suffix, replacement in (
        (".tgz", ".tar"),
        (".gz", ""),
        (".zst", ""),
        (".zstd", ""),
        (".xz", ""),
        (".txz", ".tar"),
        (".lzma", ""),
        (".bz2", ""),
        (".tbz2", ".tar"),
        (".lz4", ""),
        (".z", ""),
    ):
        if base.lower().endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)] + replacement
    return base + ".out"
