"""Walks one layer: every tar member and content window to a visitor, nested archives, whiteouts, digests."""

from __future__ import annotations

import hashlib
import io
import posixpath
import stat
import tempfile
import zipfile
import zlib
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from typing import IO, Literal, Protocol

from scanner.decompress import Prefixed, Readable, decompressing_reader, read_up_to
from scanner.detectors.base import Content
from scanner.errors import LayerError, LimitError
from scanner.image import GZIP_MAGIC, ZSTD_MAGIC, Layer
from scanner.model import LayerSummary, Problem, path_hash
from scanner.paths import normalise_path
from scanner.tarstream import DIRTYPE, LNKTYPE, REGULAR_TYPES, SYMTYPE, TarEntry, TarStream

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

MemberKind = Literal["file", "dir", "symlink", "hardlink", "whiteout", "opaque", "other"]

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
TRAILING_PATH = "<trailing bytes>"
_BOMB_FLOOR = 64 * MIB  # expansion ratios only count as a bomb past this much output
_HARDLINK_FILE_MAX = 64 * KIB
_HARDLINK_CACHE_MAX = 8 * MIB
_MAX_NOTES = 20  # per kind of non-fatal note, so a hostile tar cannot flood the report
_ZIP_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)


@dataclass(frozen=True)
class Limits:
    """Safety limits of a layer walk; reaching one makes the layer's result inconclusive, never clean."""

    window: int = 8 * MIB  # content window handed to detectors
    overlap: int = 4096  # bytes shared by consecutive windows, so a secret across a boundary is seen whole
    max_depth: int = 4  # nested archive levels opened
    max_nested_bytes: int = 1 * GIB  # expanded bytes per top-level nested archive
    max_ratio: int = 100  # expansion ratio that, past 64 MiB of output, counts as a bomb
    layer_bomb_floor: int = 1 * GIB  # a compressed layer past this output, expanding max_ratio x, is a bomb
    max_header_bytes: int = 1 * MIB  # PAX / GNU long-name header data
    max_layer_bytes: int = 256 * GIB  # uncompressed tar bytes of one layer
    spool_dir: str | None = None  # the scan's temp dir: where a nested zip larger than `window` is spooled


@dataclass(frozen=True)
class Member:
    """One tar (or nested archive) member. For a whiteout, path is the hidden path; for opaque, the dir."""

    path: str  # normalised in-layer path, no leading "/"
    inner_path: str | None  # inside nested archives: "a.jar!dir/x", "!" between levels
    kind: MemberKind
    size: int
    mode: int
    linkname: str | None
    escapes_root: bool = False  # the stored name was absolute or had ".." components


class Visitor(Protocol):
    def member(self, member: Member) -> None: ...

    def content(self, member: Member, content: Content) -> None: ...


class _Upstream(Exception):
    """A read failed in the stream that `owner` (an archive level, or the layer) is responsible for."""

    def __init__(self, owner: object, error: LayerError) -> None:
        super().__init__(str(error))
        self.owner = owner
        self.error = error


class _BudgetExceeded(LimitError):
    """The expansion budget of one top-level nested archive is used up: stop that whole archive."""


class _Hashing:
    """Counts and hashes every byte read through it; optionally enforces a byte cap."""

    def __init__(
        self,
        inner: Readable,
        cap: int | None = None,
        what: str = "",
        hashing: bool = True,
        bomb: tuple[_Hashing, int, int] | None = None,
    ) -> None:
        self._inner = inner
        self._bomb = bomb  # (the compressed input's counter, max ratio, output floor)
        self._hash = hashlib.sha256() if hashing else None
        self.count = 0
        self._cap = cap
        self._what = what

    def read(self, size: int = -1, /) -> bytes:
        data = self._inner.read(size)
        if self._hash is not None:
            self._hash.update(data)
        self.count += len(data)
        if self._cap is not None and self.count > self._cap:
            raise LimitError(f"{self._what} is larger than the {self._cap}-byte limit")
        if self._bomb is not None:
            source, ratio, floor = self._bomb
            if self.count > floor and self.count > ratio * max(source.count, 1):
                raise LimitError(
                    f"{self._what} expands more than {ratio}x ({source.count} bytes to over {self.count}): "
                    "likely a decompression bomb; rest not read"
                )
        return data

    def digest(self) -> str:
        assert self._hash is not None
        return "sha256:" + self._hash.hexdigest()


class _Budget:
    """Expanded bytes of one top-level nested archive, across all its levels; catches decompression bombs."""

    def __init__(self, limits: Limits, input_size: int, label: str) -> None:
        self._limits = limits
        self._input = max(input_size, 1)
        self._label = label
        self.out = 0

    def add(self, n: int) -> None:
        self.out += n
        if self.out > self._limits.max_nested_bytes:
            raise _BudgetExceeded(
                f"nested archive {self._label} expands past {self._limits.max_nested_bytes} bytes; "
                "rest not read"
            )
        if self.out > _BOMB_FLOOR and self.out > self._limits.max_ratio * self._input:
            raise _BudgetExceeded(
                f"nested archive {self._label} expands more than {self._limits.max_ratio}x "
                f"({self._input} bytes to over {self.out}): likely a decompression bomb; rest not read"
            )


class _Counted:
    """Charges every byte read from a decompressor to the budget."""

    def __init__(self, inner: Readable, budget: _Budget) -> None:
        self._inner = inner
        self._budget = budget

    def read(self, size: int = -1, /) -> bytes:
        data = self._inner.read(size)
        self._budget.add(len(data))
        return data


class _ZipEntryReader:
    """A zip entry's bytes, with zipfile's exceptions turned into a one-line LayerError."""

    def __init__(self, inner: IO[bytes]) -> None:
        self._inner = inner

    def read(self, size: int = -1, /) -> bytes:
        try:
            return self._inner.read(size)
        except _ZIP_ERRORS as e:
            raise LayerError(f"corrupt zip entry: {_one_line(e)}") from None


class _Windower:
    """Cuts one file's bytes into overlapping windows and hands them to the visitor."""

    def __init__(self, walker: _Walker, member: Member, size: int | None) -> None:
        self._walker = walker
        self._member = member
        self._size = size
        self._buf = bytearray()
        self._offset = 0
        self._emitted = False
        self.total = 0

    def feed(self, data: bytes) -> None:
        self._buf += data
        self.total += len(data)
        window = self._walker.limits.window
        stride = window - self._walker.limits.overlap
        size = self._size
        while len(self._buf) >= window and (
            self._offset + window < size if size is not None else len(self._buf) > window
        ):
            self._emit(bytes(self._buf[:window]), last=False)
            del self._buf[:stride]
            self._offset += stride

    def _emit(self, data: bytes, last: bool) -> None:
        size = self._size if self._size is not None else (self.total if last else -1)
        self._walker.emit(self._member, data, self._offset, size, not self._emitted, last)
        self._emitted = True

    def finish(self) -> None:
        self._emit(bytes(self._buf), last=True)
        self._buf = bytearray()

    def forget(self) -> None:
        """Drop what was fed so far: the caller cuts the windows itself."""
        self._buf = bytearray()
        self.total = 0


class _Tee:
    """Reads a file's data for a nested-archive reader while every byte also goes to the windower.

    A failure of the source belongs to the level that owns the source, so it is tagged with that owner.
    """

    def __init__(self, source: Readable, windower: _Windower, owner: object, size: int | None) -> None:
        self._source = source
        self._windower = windower
        self._owner = owner
        self._left = size

    def read(self, size: int = -1, /) -> bytes:
        if self._left is not None:
            if self._left <= 0:
                return b""
            size = self._left if size < 0 else min(size, self._left)
        try:
            data = self._source.read(size)
        except _BudgetExceeded:
            raise
        except LayerError as e:
            raise _Upstream(self._owner, e) from None
        if self._left is not None:
            if not data and size:
                raise _Upstream(self._owner, LayerError("file data ends before its declared size"))
            self._left -= len(data)
        self._windower.feed(data)
        return data

    def drain(self, chunk: int) -> None:
        while self.read(chunk):
            pass


def _read_exact(source: Readable, size: int) -> bytes:
    data = read_up_to(source, size)
    if len(data) < size:
        raise LayerError(f"file data ends after {len(data)} of {size} bytes")
    return data


def archive_kind(head: bytes) -> str | None:
    """Which nested archive format a file's first bytes announce, if any."""
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head[257:262] == b"ustar":
        return "tar"
    return None


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _decompressed_name(label: str) -> str:
    base = label.rsplit("!", 1)[-1].rsplit("/", 1)[-1]
    for suffix, replacement in ((".tgz", ".tar"), (".gz", ""), (".zst", ""), (".zstd", ""), (".z", "")):
        if base.lower().endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)] + replacement
    return base + ".out"


class _Walker:
    """The state of one layer walk."""

    def __init__(self, layer: Layer, limits: Limits, visitor: Visitor, summary: LayerSummary) -> None:
        self.layer = layer
        self.limits = limits
        self.visitor = visitor
        self.summary = summary
        self.where = f"layer {layer.index}"
        self._paths: list[int] = []
        self._nondir: list[int] = []
        self._files_seen: set[int] = set()
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_bytes = 0
        self._notes: dict[str, int] = {}
        self.token = object()  # owner of the layer's own tar stream

    # -- reporting --------------------------------------------------------------------------------

    def problem(self, where: str, what: str, inconclusive: bool = True) -> None:
        self.summary.problems.append(Problem(where, what, inconclusive))
        if inconclusive:
            self.summary.complete = False

    def note(self, kind: str, where: str, what: str) -> None:
        """A non-fatal note, capped per kind."""
        count = self._notes.get(kind, 0) + 1
        self._notes[kind] = count
        if count <= _MAX_NOTES:
            self.problem(where, what, inconclusive=False)

    def flush_notes(self) -> None:
        for kind, count in self._notes.items():
            if count > _MAX_NOTES:
                self.problem(
                    self.where, f"{count - _MAX_NOTES} more notes of kind {kind!r} not listed", False
                )

    def emit(self, member: Member, data: bytes, offset: int, size: int, first: bool, last: bool) -> None:
        self.visitor.content(
            member,
            Content(
                path=member.path,
                inner_path=member.inner_path,
                data=data,
                offset=offset,
                size=size,
                is_first=first,
                is_last=last,
            ),
        )

    def _where(self, member: Member) -> str:
        full = member.path if member.inner_path is None else f"{member.path} ({member.inner_path})"
        return f"{self.where} {full}"

    # -- the layer --------------------------------------------------------------------------------

    def run(self) -> None:
        assert self.layer.blob is not None
        with self.layer.open_blob() as raw:
            raw_hash = _Hashing(raw)
            reader, self.summary.compression = decompressing_reader(raw_hash)
            plain = self.summary.compression == "none"
            # An uncompressed blob is the tar stream itself: hash it once.
            bomb = None if plain else (raw_hash, self.limits.max_ratio, self.limits.layer_bomb_floor)
            tar_hash = _Hashing(
                reader, self.limits.max_layer_bytes, "uncompressed layer", hashing=not plain, bomb=bomb
            )
            tar = TarStream(tar_hash, max_header_bytes=self.limits.max_header_bytes)
            try:
                self._walk_tar(tar, None, 0, None, self.token)
                if tar.eof_without_marker:
                    self.problem(
                        self.where, "tar stream ends without an end-of-archive block; it may be truncated"
                    )
                self._trailing(tar)
                while raw_hash.read(1 * MIB):
                    pass
            finally:
                self.summary.bytes = tar_hash.count
                self._finish_paths()
        if self.summary.complete:
            self.summary.blob_digest = raw_hash.digest()
            self.summary.diff_id = self.summary.blob_digest if plain else tar_hash.digest()

    def _finish_paths(self) -> None:
        self.summary.paths = array("Q", sorted(set(self._paths)))
        self.summary.nondir_paths = array("Q", sorted(set(self._nondir)))

    def _trailing(self, tar: TarStream) -> None:
        kept: list[bytes] = []
        kept_bytes = 0
        nonzero = False
        dropped = 0
        for chunk in tar.rest():
            if not nonzero and chunk.count(0) == len(chunk):
                kept.append(chunk)
                kept_bytes += len(chunk)
                if kept_bytes > self.limits.window:  # only zeros so far: no need to keep them all
                    kept, kept_bytes = [], 0
                    dropped = 1
                continue
            nonzero = True
            room = self.limits.window - kept_bytes
            if room > 0:
                kept.append(chunk[:room])
                kept_bytes += min(room, len(chunk))
            dropped += max(0, len(chunk) - max(room, 0))
        if not nonzero:
            return
        data = b"".join(kept)
        member = Member(TRAILING_PATH, None, "other", len(data), 0, None)
        self.visitor.member(member)
        self.emit(member, data, 0, len(data), True, True)
        self.problem(
            self.where, f"{len(data)} bytes of non-zero data follow the end of the tar archive", False
        )
        if dropped > 1:
            self.problem(
                self.where,
                f"trailing data after the tar archive is larger than {self.limits.window} bytes; "
                "rest not scanned",
            )

    # -- tar members (the layer, or a nested tar) --------------------------------------------------

    def _walk_tar(
        self, tar: TarStream, outer: Member | None, depth: int, budget: _Budget | None, owner: object
    ) -> None:
        label = None if outer is None else (outer.inner_path or posixpath.basename(outer.path))
        for entry in tar:
            self._tar_member(tar, entry, outer, label, depth, budget, owner)

    def _tar_member(
        self,
        tar: TarStream,
        entry: TarEntry,
        outer: Member | None,
        label: str | None,
        depth: int,
        budget: _Budget | None,
        owner: object,
    ) -> None:
        name, escapes = normalise_path(entry.name)
        top = outer is None

        def make(path: str, kind: MemberKind, size: int, linkname: str | None) -> Member:
            if top:
                return Member(path, None, kind, size, entry.mode, linkname, escapes)
            assert outer is not None
            return Member(outer.path, f"{label}!{path}", kind, size, entry.mode, linkname, escapes)

        for text in entry.pax_records:
            pax = make(f"<pax header before {name}>", "other", len(text), None)
            self.visitor.member(pax)
            self.emit(pax, text, 0, len(text), True, True)
        if escapes:
            self.note("escape", self.where, f"member path escapes root: {entry.name!r}")
        kind: MemberKind
        path = name
        linkname: str | None = None
        kind_byte = entry.type
        base = name.rsplit("/", 1)[-1]
        if kind_byte == DIRTYPE:
            kind = "dir"
        elif top and base.startswith(WHITEOUT_PREFIX):
            parent = name[: len(name) - len(base)]
            if base == OPAQUE_MARKER:
                kind, path = "opaque", parent.rstrip("/")
                self.summary.opaque_dirs.append(path)
            elif base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
                kind = "other"  # aufs bookkeeping (.wh..wh.plnk and the like), not a whiteout
            else:
                kind, path = "whiteout", parent + base[len(WHITEOUT_PREFIX) :]
                self.summary.whiteouts.append(path)
        elif kind_byte == SYMTYPE:
            kind, linkname = "symlink", entry.linkname
        elif kind_byte == LNKTYPE:
            kind, linkname = "hardlink", normalise_path(entry.linkname)[0]
        elif kind_byte in REGULAR_TYPES:
            kind = "file"
        else:
            kind = "other"
        member = make(path, kind, entry.size, linkname)
        self.visitor.member(member)
        if top and kind not in ("whiteout", "opaque") and path:
            h = path_hash(path)
            self._paths.append(h)
            if kind != "dir":
                self._nondir.append(h)
            if kind == "file":
                self._files_seen.add(h)
        if kind == "file":
            if top:
                self.summary.files += 1
            else:
                self.summary.nested_files += 1
        if entry.sparse:
            self.problem(
                self._where(member), "GNU sparse file: stored bytes scanned as they are, holes not expanded"
            )
        if kind == "symlink":
            target = entry.linkname.encode("utf-8", "surrogateescape")
            self.emit(member, target, 0, len(target), True, True)
        elif kind == "hardlink" and top:
            self._hardlink(member)
        if entry.has_data and (kind == "file" or entry.size > 0):
            self._scan_data(member, tar, entry.size, depth, budget, owner, cache=top and kind == "file")

    def _hardlink(self, member: Member) -> None:
        target = member.linkname or ""
        cached = self._cache.get(target)
        if cached is not None:
            self.emit(member, cached, 0, len(cached), True, True)
        elif path_hash(target) not in self._files_seen:
            self.note(
                "hardlink",
                self._where(member),
                f"hardlink to {target!r}, which is not an earlier file of this layer",
            )

    def _remember(self, path: str, data: bytes) -> None:
        if len(data) > _HARDLINK_FILE_MAX:
            return
        old = self._cache.pop(path, None)
        if old is not None:
            self._cache_bytes -= len(old)
        self._cache[path] = data
        self._cache_bytes += len(data)
        while self._cache_bytes > _HARDLINK_CACHE_MAX:
            _, evicted = self._cache.popitem(last=False)
            self._cache_bytes -= len(evicted)

    # -- file data and nested archives --------------------------------------------------------------

    def _scan_data(
        self,
        member: Member,
        source: Readable,
        size: int | None,
        depth: int,
        budget: _Budget | None,
        owner: object,
        cache: bool = False,
    ) -> None:
        """Hand a file's bytes to the visitor and, if they are an archive, walk into it."""
        window = self.limits.window
        if size is not None and size <= window:
            try:
                data = _read_exact(source, size)
            except _BudgetExceeded:
                raise
            except LayerError as e:
                raise _Upstream(owner, e) from None
            self.emit(member, data, 0, size, True, True)
            if cache:
                self._remember(member.path, data)
            kind = archive_kind(data[:512])
            if kind is not None:
                self._open_nested(member, kind, io.BytesIO(data), data, size, depth, budget)
            return
        windower = _Windower(self, member, size)
        tee = _Tee(source, windower, owner, size)
        head = read_up_to(tee, 512)
        if size is None and len(head) < 512:
            windower.finish()  # a short decompressed stream: all of it is in `head`
            kind = archive_kind(head)
            if kind is not None:
                self._open_nested(member, kind, io.BytesIO(head), head, len(head), depth, budget)
            return
        kind = archive_kind(head)
        if kind is None and size is not None:
            windower.forget()
            self._windows(member, head, source, size, owner)
            return
        if kind is not None:
            self._open_nested(member, kind, Prefixed(head, tee), None, size, depth, budget)
        tee.drain(window)
        windower.finish()

    def _windows(self, member: Member, head: bytes, source: Readable, size: int, owner: object) -> None:
        """A large plain file of known size: overlapping windows read straight from the source."""
        window, overlap = self.limits.window, self.limits.overlap
        try:
            data = head + _read_exact(source, min(window, size) - len(head))
            offset = 0
            while True:
                last = offset + len(data) >= size
                self.emit(member, data, offset, size, offset == 0, last)
                if last:
                    return
                more = _read_exact(source, min(window - overlap, size - offset - len(data)))
                offset += len(data) - overlap
                data = data[-overlap:] + more if overlap else more
        except _BudgetExceeded:
            raise
        except LayerError as e:
            raise _Upstream(owner, e) from None

    def _open_nested(
        self,
        member: Member,
        kind: str,
        stream: Readable,
        data: bytes | None,
        size: int | None,
        depth: int,
        budget: _Budget | None,
    ) -> None:
        label = member.inner_path or posixpath.basename(member.path)
        if depth >= self.limits.max_depth:
            self.problem(
                self._where(member),
                f"nested {kind} archive deeper than {self.limits.max_depth} levels not opened",
            )
            return
        top = budget is None
        if budget is None:
            budget = _Budget(
                self.limits, size or 0, f"{member.path}" + (f" ({label})" if member.inner_path else "")
            )
        self.summary.nested_archives += 1
        token = object()
        try:
            if kind == "zip":
                self._zip(member, stream, data, depth + 1, budget)
            elif kind == "tar":
                tar = TarStream(stream, max_header_bytes=self.limits.max_header_bytes)
                self._walk_tar(tar, member, depth + 1, budget, token)
            else:
                self._compressed(member, stream, label, depth + 1, budget, token)
        except _Upstream as up:
            if up.owner is not token:
                raise
            self.problem(self._where(member), f"nested {kind} archive not read in full: {up.error}")
        except _BudgetExceeded as e:
            if not top:
                raise
            self.problem(self._where(member), str(e))
        except LayerError as e:
            self.problem(self._where(member), f"nested {kind} archive not read in full: {e}")

    def _compressed(
        self, member: Member, stream: Readable, label: str, depth: int, budget: _Budget, token: object
    ) -> None:
        reader, _ = decompressing_reader(stream)
        counted = _Counted(reader, budget)
        head = read_up_to(counted, 512)
        inner = Prefixed(head, counted)
        if archive_kind(head) == "tar":
            # A tgz: walk the tar inside directly rather than as one more level.
            tar = TarStream(inner, max_header_bytes=self.limits.max_header_bytes)
            self._walk_tar(tar, member, depth, budget, token)
            return
        name = _decompressed_name(label)
        child = Member(member.path, f"{label}!{name}", "file", -1, member.mode, None, member.escapes_root)
        self.visitor.member(child)
        self.summary.nested_files += 1
        self._scan_data(child, inner, None, depth, budget, token)

    def _zip(self, member: Member, stream: Readable, data: bytes | None, depth: int, budget: _Budget) -> None:
        if data is not None:
            self._zip_entries(member, io.BytesIO(data), depth, budget)
            return
        if self.limits.spool_dir is None:
            self.problem(
                self._where(member), "nested zip larger than the content window not opened: no spool dir"
            )
            return
        with tempfile.TemporaryFile(dir=self.limits.spool_dir, prefix="imgscan-zip-") as spool:
            while chunk := stream.read(self.limits.window):
                spool.write(chunk)
            spool.seek(0)
            self._zip_entries(member, spool, depth, budget)

    def _zip_entries(self, member: Member, fileobj: IO[bytes], depth: int, budget: _Budget) -> None:
        label = member.inner_path or posixpath.basename(member.path)
        try:
            archive = zipfile.ZipFile(fileobj)
            infos = archive.infolist()
        except _ZIP_ERRORS as e:
            raise LayerError(f"corrupt zip: {_one_line(e)}") from None
        with archive:
            for info in infos:
                name, escapes = normalise_path(info.filename)
                mode = info.external_attr >> 16
                kind: MemberKind = "dir" if info.is_dir() else "symlink" if stat.S_ISLNK(mode) else "file"
                child = Member(
                    member.path, f"{label}!{name}", kind, info.file_size, mode & 0o7777, None, escapes
                )
                if kind == "dir":
                    self.visitor.member(child)
                    continue
                if kind == "file":
                    self.summary.nested_files += 1
                if info.flag_bits & 0x1:
                    self.visitor.member(child)
                    self.problem(self._where(child), "encrypted zip entry not read")
                    continue
                token = object()
                try:
                    with archive.open(info) as raw:
                        entry = _Counted(_ZipEntryReader(raw), budget)
                        if kind == "symlink":
                            target = read_up_to(entry, 64 * KIB)
                            child = Member(
                                member.path,
                                child.inner_path,
                                kind,
                                info.file_size,
                                child.mode,
                                target.decode("utf-8", "backslashreplace"),
                                escapes,
                            )
                            self.visitor.member(child)
                            self.emit(child, target, 0, len(target), True, True)
                        else:
                            self.visitor.member(child)
                            self._scan_data(child, entry, info.file_size, depth, budget, token)
                except _Upstream as up:
                    if up.owner is not token:
                        raise
                    self.problem(self._where(child), f"zip entry not read in full: {up.error}")
                except _BudgetExceeded:
                    raise
                except LayerError as e:
                    self.problem(self._where(child), f"zip entry not read in full: {e}")
                except _ZIP_ERRORS as e:
                    self.problem(self._where(child), f"corrupt zip entry: {_one_line(e)}")


def walk_layer(layer: Layer, limits: Limits, visitor: Visitor) -> LayerSummary:
    """Walk one layer; content trouble becomes a Problem in the summary, never an exception."""
    summary = LayerSummary()
    walker = _Walker(layer, limits, visitor, summary)
    if layer.blob is None:
        walker.problem(walker.where, "layer blob is missing from the image source; layer not scanned")
        return summary
    try:
        walker.run()
    except _Upstream as up:
        walker.problem(walker.where, f"layer not read in full: {up.error}")
    except LayerError as e:
        walker.problem(walker.where, f"layer not read in full: {e}")
    walker.flush_notes()
    if summary.complete:
        verify(layer, summary)
    return summary


def verify(layer: Layer, summary: LayerSummary) -> None:
    """Compare the digests a full read computed with the ones the image declares for `layer`."""
    where = f"layer {layer.index}"
    checks: list[tuple[str, str | None, str]] = [("diff_id", layer.diff_id, summary.diff_id)]
    if layer.digest_is_compressed:
        checks.append(("blob digest", layer.digest, summary.blob_digest))
    else:
        checks.append(("blob digest", layer.digest, summary.diff_id))
    for what, expected, got in checks:
        if not expected:
            continue
        if not expected.startswith("sha256:"):
            summary.problems.append(
                Problem(where, f"{what} {expected} uses an algorithm imgscan does not verify", False)
            )
        elif expected != got:
            summary.problems.append(Problem(where, f"{what} mismatch: expected {expected}, got {got}"))
            summary.complete = False
