"""The walk of one layer: its tar members, their content windows and what lies around them, to a visitor."""

from __future__ import annotations

import io
from array import array

from scanner.decompress import Decoder, Prefixed, Readable, read_up_to
from scanner.detectors.base import Content
from scanner.errors import LayerError
from scanner.image import Layer
from scanner.layer import nested
from scanner.layer.limits import MIB, Budget, BudgetExceeded, Limits, Upstream
from scanner.layer.members import (
    HEADER_FIELDS_PATH,
    TRAILING_PATH,
    HardlinkTargets,
    HeaderFields,
    HeaderTap,
    Member,
    MemberKind,
    TarRest,
    Visitor,
    classify,
    label_of,
)
from scanner.layer.stream import LayerStream
from scanner.layer.windows import Tee, Windower, plain_windows, read_exact
from scanner.model import LayerSummary, Problem, path_hash
from scanner.paths import normalise_path
from scanner.sniff import HEAD, ZIP_END_SEARCH, ZIP_LOCAL, archive_kind, utf32_codec, zip_end_in
from scanner.tarstream import TarEntry, TarStream

_MAX_NOTES = 20  # per kind of non-fatal note, so a hostile tar cannot flood the report


class Walker:
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
        self._links = HardlinkTargets()
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

    def where_of(self, member: Member) -> str:
        full = member.path if member.inner_path is None else f"{member.path} ({member.inner_path})"
        return f"{self.where} {full}"

    def child(
        self,
        outer: Member | None,
        path: str,
        kind: MemberKind,
        size: int,
        mode: int = 0,
        linkname: str | None = None,
        escapes: bool = False,
    ) -> Member:
        """A member at `path` of the layer itself (no outer) or of the archive `outer`."""
        if outer is None:
            return Member(path, None, kind, size, mode, linkname, escapes)
        return Member(outer.path, f"{label_of(outer)}!{path}", kind, size, mode, linkname, escapes)

    def pseudo(self, outer: Member | None, name: str, data: bytes) -> None:
        """Bytes around members (headers, padding, container fields) as the content of a pseudo-member."""
        member = self.child(outer, name, "other", len(data))
        self.visitor.member(member)
        self.emit(member, data, 0, len(data), True, True)

    def side_data(self, decoder: Decoder | None, outer: Member | None) -> None:
        """What a compressed container holds beside its payload: gzip header fields, zstd skippable frames."""
        if decoder is None:
            return
        for what, data in decoder.side:
            self.pseudo(outer, f"<{what}>", data)
        if decoder.side_cut:
            where = self.where if outer is None else self.where_of(outer)
            self.problem(
                where, f"{decoder.kind} container fields larger than the 1 MiB kept; rest not scanned"
            )

    # -- the layer --------------------------------------------------------------------------------

    def run(self) -> None:
        with self.layer.open_blob() as raw:
            stream = LayerStream(raw, self.limits)
            self.summary.compression = stream.compression
            try:
                tar = self.walk_tar(stream.tar, None, 0, None, self.token, scan_rest=True)
                if tar.eof_without_marker:
                    self.problem(
                        self.where, "tar stream ends without an end-of-archive block; it may be truncated"
                    )
                self.side_data(stream.decoder, None)
                stream.finish()
            finally:
                self.summary.bytes = stream.tar.count
                self._finish_paths()
        if self.summary.complete:
            self.summary.blob_digest = stream.blob_digest()
            self.summary.diff_id = stream.diff_id()

    def _finish_paths(self) -> None:
        self.summary.paths = array("Q", sorted(set(self._paths)))
        self.summary.nondir_paths = array("Q", sorted(set(self._nondir)))

    # -- tar members (the layer, or a nested tar) --------------------------------------------------

    def walk_tar(
        self,
        source: Readable,
        outer: Member | None,
        depth: int,
        budget: Budget | None,
        owner: object,
        scan_rest: bool,
    ) -> TarStream:
        """Every member of a tar, its header fields, and (when `scan_rest`) whatever follows its end."""
        tap = HeaderTap(source)
        tar = TarStream(tap, max_header_bytes=self.limits.max_header_bytes)
        fields = HeaderFields(tap, lambda data: self.pseudo(outer, HEADER_FIELDS_PATH, data))
        try:
            while (entry := tar.next()) is not None:
                fields.entry(entry, tar.position)
                self._tar_member(tar, entry, outer, depth, budget, owner)
            fields.end(tar.position)
        finally:
            fields.flush()  # what was collected before a failure is still scanned
        rest = TarRest(tar)
        if not scan_rest:
            while rest.read(MIB):
                pass
            return tar
        head = rest.start()
        if head:
            member = self.child(outer, TRAILING_PATH, "other", -1)
            self.visitor.member(member)
            where = self.where if outer is None else self.where_of(outer)
            self.problem(
                where, "non-zero data follows the end of the tar archive; scanned as its own member", False
            )
            self.scan_data(member, Prefixed(head, rest), None, depth, budget, owner)
        return tar

    def _tar_member(
        self,
        tar: TarStream,
        entry: TarEntry,
        outer: Member | None,
        depth: int,
        budget: Budget | None,
        owner: object,
    ) -> None:
        name, escapes = normalise_path(entry.name)
        top = outer is None
        for text in entry.pax_records:
            self.pseudo(outer, f"<pax header before {name}>", text)
        if entry.pax_global:
            return  # a global header is its own entry to Go, but no file: its text was scanned above
        if escapes:
            self.note("escape", self.where, f"member path escapes root: {entry.name!r}")
        kind, path = classify(entry, name, top)
        linkname = None
        if kind == "symlink":
            linkname = entry.linkname
        elif kind == "hardlink":
            linkname = normalise_path(entry.linkname)[0]
        elif kind == "whiteout":
            self.summary.whiteouts.append(path)
        elif kind == "opaque":
            self.summary.opaque_dirs.append(path)
        member = self.child(outer, path, kind, entry.size, entry.mode, linkname=linkname, escapes=escapes)
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
                self.where_of(member), "GNU sparse file: stored bytes scanned as they are, holes not expanded"
            )
        if kind == "symlink":
            target = entry.linkname.encode("utf-8", "surrogateescape")
            self.emit(member, target, 0, len(target), True, True)
        elif kind == "hardlink" and top:
            self._hardlink(member)
        if entry.has_data and (kind == "file" or entry.size > 0):
            self.scan_data(member, tar, entry.size, depth, budget, owner, cache=top and kind == "file")

    def _hardlink(self, member: Member) -> None:
        target = member.linkname or ""
        cached = self._links.get(target)
        if cached is not None:
            self.emit(member, cached, 0, len(cached), True, True)
        elif path_hash(target) not in self._files_seen:
            self.note(
                "hardlink",
                self.where_of(member),
                f"hardlink to {target!r}, which is not an earlier file of this layer",
            )

    # -- file data and nested archives --------------------------------------------------------------

    def scan_data(
        self,
        member: Member,
        source: Readable,
        size: int | None,
        depth: int,
        budget: Budget | None,
        owner: object,
        cache: bool = False,
    ) -> None:
        """Hand a file's bytes to the visitor and, if they are an archive, walk into it."""
        window = self.limits.window
        try:
            if size is not None and size <= window:
                data = read_exact(source, size)
            elif size is not None:
                data = read_exact(source, min(HEAD, size))
            else:
                data = read_up_to(source, window + 1)
        except BudgetExceeded:
            raise
        except LayerError as e:
            raise Upstream(owner, e) from None
        if size is None and len(data) <= window:
            size = len(data)  # a short decompressed stream: all of it is in memory
        if len(data) == size:
            self.emit(member, data, 0, size, True, True)
            if cache:
                self._links.remember(member.path, data)
            self._in_memory(member, data, depth, budget)
            return
        self._streamed(member, data, source, size, depth, budget, owner)

    def _in_memory(self, member: Member, data: bytes, depth: int, budget: Budget | None) -> None:
        if len(data) < 16:
            return  # too short for an archive or a UTF-32 text worth a second look
        kind = archive_kind(data[:HEAD], data)
        if kind == "zip" and not data.startswith(ZIP_LOCAL):
            kind = "zip?"  # found by its end record after other bytes: a zip only if zipfile agrees
        if kind is not None:
            self.open_nested(member, kind, io.BytesIO(data), data, len(data), depth, budget)
            return
        codec = utf32_codec(data[:64])
        if codec is not None:
            text = data.decode(codec, "replace").encode("utf-8")
            self.pseudo(member, "<utf-32 text>", text)

    def _streamed(
        self,
        member: Member,
        head: bytes,
        source: Readable,
        size: int | None,
        depth: int,
        budget: Budget | None,
        owner: object,
    ) -> None:
        """A file larger than a window, or a decompressed stream of unknown size: windows, read as it goes."""
        kind = archive_kind(head[:HEAD])
        if kind is None and size is not None:
            try:
                first = head + read_exact(source, min(self.limits.window, size) - len(head))
                if ZIP_LOCAL in first:
                    kind = "zip?"  # a zip after other bytes (an executable jar)? Spooled and tried.
                    head = first
                else:
                    last = plain_windows(self.emit, self.limits, member, first, source, size)
                    self._check_zip_end(member, last)
                    return
            except BudgetExceeded:
                raise
            except LayerError as e:
                raise Upstream(owner, e) from None
        windower = Windower(self.emit, self.limits, member, size)
        windower.feed(head)
        left = None if size is None else size - len(head)
        tee = Tee(source, windower, owner, left)
        if kind is not None:
            self.open_nested(member, kind, Prefixed(head, tee), None, size, depth, budget)
        tee.drain(self.limits.window)
        windower.finish()
        if kind is None:
            self._check_zip_end(member, windower.tail)

    def _check_zip_end(self, member: Member, last: bytes) -> None:
        if zip_end_in(last[-ZIP_END_SEARCH:]):
            self.problem(
                self.where_of(member),
                "ends like a zip archive whose first entry lies past the first content window; not opened",
            )

    def open_nested(
        self,
        member: Member,
        kind: str,
        stream: Readable,
        data: bytes | None,
        size: int | None,
        depth: int,
        budget: Budget | None,
    ) -> None:
        """Walk into the archive `member` is; trouble inside it is a problem of that member."""
        label = label_of(member)
        shown = kind.rstrip("?")
        if depth >= self.limits.max_depth:
            self.problem(
                self.where_of(member),
                f"nested {shown} archive deeper than {self.limits.max_depth} levels not opened",
            )
            return
        top = budget is None
        if budget is None:
            where = member.path + (f" ({label})" if member.inner_path else "")
            # Of a stream of unknown size only the byte cap counts, not the expansion ratio.
            budget = Budget(self.limits, self.limits.max_nested_bytes if size is None else size, where)
        token = object()
        try:
            opened = nested.open_kind(self, member, kind, stream, data, depth + 1, budget, token)
            if opened:
                self.summary.nested_archives += 1
        except Upstream as up:
            if up.owner is not token:
                raise
            self.problem(self.where_of(member), f"nested {shown} archive not read in full: {up.error}")
        except BudgetExceeded as e:
            if not top:
                raise
            self.problem(self.where_of(member), str(e))
        except LayerError as e:
            self.problem(self.where_of(member), f"nested {shown} archive not read in full: {e}")
