"""Whiteout lineage: whether a path of layer N is visible, deleted or overwritten by the layers above it."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

from scanner.model import LayerSummary, path_hash

VISIBLE = "visible"
DELETED = "deleted"
OVERWRITTEN = "overwritten"


def _contains(sorted_hashes: array[int], value: int) -> bool:
    i = bisect_left(sorted_hashes, value)
    return i < len(sorted_hashes) and sorted_hashes[i] == value


def _ancestors(path: str) -> list[str]:
    """Strict ancestors of a path, nearest first: "a/b/c" -> ["a/b", "a"]."""
    out: list[str] = []
    end = path.rfind("/")
    while end > 0:
        out.append(path[:end])
        end = path.rfind("/", 0, end)
    return out


@dataclass(frozen=True)
class _LayerView:
    whiteouts: frozenset[str]
    opaque_dirs: frozenset[str]
    paths: array[int]
    nondir_paths: array[int]


class Lineage:
    """Answers, for a path seen in one layer, what the first later layer did to it.

    Within one layer the deletions (whiteouts, opaque dirs, a non-directory replacing a directory) act
    before the additions, as when an overlay applies the layer; whiteouts never hide their own layer.
    """

    def __init__(self, summaries: Iterable[LayerSummary] = ()) -> None:
        self._layers: dict[int, _LayerView] = {}
        self._order: list[int] = []
        for index, summary in enumerate(summaries):
            self.add_layer(index, summary)

    def add_layer(self, index: int, summary: LayerSummary) -> None:
        self._layers[index] = _LayerView(
            frozenset(summary.whiteouts),
            frozenset(summary.opaque_dirs),
            summary.paths,
            summary.nondir_paths,
        )
        self._order = sorted(self._layers)

    def status(self, path: str, layer_index: int) -> tuple[str, int | None]:
        """("deleted", M) or ("overwritten", M) for the first later layer M that did so; else visible."""
        ancestors = _ancestors(path)
        ancestor_hashes: list[int] | None = None
        own_hash: int | None = None
        for index in self._order[bisect_left(self._order, layer_index + 1) :]:
            view = self._layers[index]
            if view.whiteouts and (path in view.whiteouts or any(a in view.whiteouts for a in ancestors)):
                return DELETED, index
            if view.opaque_dirs and any(a in view.opaque_dirs for a in ancestors):
                return DELETED, index
            if ancestors and len(view.nondir_paths):
                if ancestor_hashes is None:
                    ancestor_hashes = [path_hash(a) for a in ancestors]
                if any(_contains(view.nondir_paths, h) for h in ancestor_hashes):
                    return DELETED, index
            if path in view.opaque_dirs:
                return OVERWRITTEN, index  # an opaque marker means the layer has a directory at this path
            if len(view.paths):
                if own_hash is None:
                    own_hash = path_hash(path)
                if _contains(view.paths, own_hash):
                    return OVERWRITTEN, index
        return VISIBLE, None
