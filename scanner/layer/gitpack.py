"""Git packfiles (`.git/objects/pack/*.pack`): every object inflated, deltas resolved against their bases."""

from __future__ import annotations

import hashlib
import struct
import zlib
from typing import IO

from scanner.decompress import one_line
from scanner.errors import LayerError
from scanner.layer.level import Walk
from scanner.layer.limits import MIB, Budget
from scanner.layer.members import Member

_TYPES = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}
_OFS_DELTA, _REF_DELTA = 6, 7
_CACHE_MAX = 64 * MIB  # resolved objects kept as delta bases
_MAX_OBJECTS = 1_000_000


def walk_pack(walk: Walk, member: Member, fileobj: IO[bytes], depth: int, budget: Budget) -> None:
    """Hand every object of the pack on as a file `<sha1>`; a delta whose base is not at hand is a problem."""
    header = fileobj.read(12)
    count = struct.unpack(">I", header[8:12])[0] if len(header) == 12 else 0
    if count > _MAX_OBJECTS:
        raise LayerError(f"git pack claims {count} objects, more than the {_MAX_OBJECTS} read")
    pack = _Pack(fileobj, budget, walk.limits.max_nested_bytes)
    unresolved = 0
    for _ in range(count):
        offset = fileobj.tell()
        kind, data, base = pack.next_object(offset)
        if base is not None:
            resolved = pack.resolve(base)
            if resolved is None:
                unresolved += 1
                continue
            try:
                kind, data = resolved[0], _apply_delta(resolved[1], data)
            except IndexError:
                raise LayerError("corrupt git pack delta") from None
        name = pack.remember(offset, kind, data)
        child = walk.child(member, name, "file", len(data), 0o644)
        walk.visitor.member(child)
        walk.summary.nested_files += 1
        walk.scan_data(child, _Bytes(data), len(data), depth, budget, object())
    if unresolved:
        walk.problem(
            walk.where_of(member),
            f"git pack: {unresolved} deltas without their base at hand; not read",
        )


class _Pack:
    def __init__(self, fileobj: IO[bytes], budget: Budget, max_object: int) -> None:
        self._file = fileobj
        self._max_object = max_object
        self._budget = budget
        self._by_offset: dict[int, tuple[bytes, bytes]] = {}
        self._by_sha: dict[bytes, int] = {}
        self._cached = 0

    def next_object(self, offset: int) -> tuple[bytes, bytes, int | bytes | None]:
        """(type, inflated data, delta base: an offset, a sha1, or None) of the object at `offset`."""
        f = self._file
        c = _byte(f)
        kind, size, shift = (c >> 4) & 7, c & 15, 4
        while c & 0x80:
            c = _byte(f)
            size |= (c & 0x7F) << shift
            shift += 7
        base: int | bytes | None = None
        if kind == _OFS_DELTA:
            c = _byte(f)
            distance = c & 0x7F
            while c & 0x80:
                c = _byte(f)
                distance = ((distance + 1) << 7) | (c & 0x7F)
            base = offset - distance
        elif kind == _REF_DELTA:
            base = f.read(20)
        elif kind not in _TYPES:
            raise LayerError(f"git pack object of unknown type {kind} at offset {offset}")
        if size > self._max_object:
            raise LayerError(f"git pack object at offset {offset} claims {size} bytes, past the nested limit")
        data = self._inflate(size)
        return _TYPES.get(kind, b""), data, base

    def _inflate(self, size: int) -> bytes:
        inflate = zlib.decompressobj()
        parts = []
        got = 0
        while not inflate.eof:
            raw = self._file.read(1 << 16)
            if not raw:
                raise LayerError("git pack ends inside an object")
            try:
                out = inflate.decompress(raw, size + 1 - got)
            except zlib.error as e:
                raise LayerError(f"corrupt git pack object: {one_line(e)}") from None
            self._budget.add(len(out))
            got += len(out)
            if got > size or (inflate.unconsumed_tail and not inflate.eof):
                raise LayerError("git pack object inflates past its declared size")
            parts.append(out)
            if inflate.eof:
                self._file.seek(-len(inflate.unused_data), 1)
        return b"".join(parts)

    def resolve(self, base: int | bytes) -> tuple[bytes, bytes] | None:
        offset = base if isinstance(base, int) else self._by_sha.get(base)
        return None if offset is None else self._by_offset.get(offset)

    def remember(self, offset: int, kind: bytes, data: bytes) -> str:
        """Keep the object as a possible delta base (within the cache); returns its sha1 name."""
        sha = hashlib.sha1(kind + b" %d\0" % len(data) + data, usedforsecurity=False).digest()
        if self._cached + len(data) <= _CACHE_MAX:
            self._by_offset[offset] = (kind, data)
            self._by_sha[sha] = offset
            self._cached += len(data)
        return sha.hex()


def _byte(f: IO[bytes]) -> int:
    b = f.read(1)
    if not b:
        raise LayerError("git pack ends inside an object header")
    return b[0]


def _varint(delta: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(delta):
            raise LayerError("corrupt git pack delta")
        c = delta[pos]
        pos += 1
        value |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return value, pos


def _apply_delta(base: bytes, delta: bytes) -> bytes:
    source_size, pos = _varint(delta, 0)
    target_size, pos = _varint(delta, pos)
    if source_size != len(base):
        raise LayerError("git pack delta does not fit its base")
    out = bytearray()
    while pos < len(delta):
        c = delta[pos]
        pos += 1
        if c & 0x80:
            offset = size = 0
            for i in range(4):
                if c & (1 << i):
                    offset |= delta[pos] << (8 * i)
                    pos += 1
            for i in range(3):
                if c & (0x10 << i):
                    size |= delta[pos] << (8 * i)
                    pos += 1
            out += base[offset : offset + (size or 0x10000)]
        elif c:
            out += delta[pos : pos + c]
            pos += c
        else:
            raise LayerError("corrupt git pack delta")
    if len(out) != target_size:
        raise LayerError("git pack delta gives the wrong size")
    return bytes(out)


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def read(self, size: int = -1, /) -> bytes:
        end = len(self._data) if size < 0 else self._pos + size
        out = bytes(self._data[self._pos : end])
        self._pos += len(out)
        return out
