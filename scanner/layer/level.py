"""What an archive opener may ask of the walk it is part of: the Walk protocol."""

from __future__ import annotations

from typing import Protocol

from scanner.decompress import Decoder, Readable
from scanner.layer.limits import Budget, Limits
from scanner.layer.members import Member, MemberKind, Visitor
from scanner.model import LayerSummary
from scanner.tarstream import TarStream


class Walk(Protocol):
    """The layer walk, as the openers of nested archives see it."""

    limits: Limits
    summary: LayerSummary
    visitor: Visitor

    def problem(self, where: str, what: str, inconclusive: bool = True) -> None: ...

    def where_of(self, member: Member) -> str: ...

    def emit(self, member: Member, data: bytes, offset: int, size: int, first: bool, last: bool) -> None: ...

    def child(
        self,
        outer: Member | None,
        path: str,
        kind: MemberKind,
        size: int,
        mode: int = 0,
        linkname: str | None = None,
        escapes: bool = False,
    ) -> Member: ...

    def pseudo(self, outer: Member | None, name: str, data: bytes) -> None: ...

    def side_data(self, decoder: Decoder | None, outer: Member | None) -> None: ...

    def scan_data(
        self,
        member: Member,
        source: Readable,
        size: int | None,
        depth: int,
        budget: Budget | None,
        owner: object,
        cache: bool = False,
    ) -> None: ...

    def walk_tar(
        self,
        source: Readable,
        outer: Member | None,
        depth: int,
        budget: Budget | None,
        owner: object,
        scan_rest: bool,
    ) -> TarStream: ...
