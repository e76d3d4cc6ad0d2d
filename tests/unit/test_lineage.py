"""Whiteout lineage: deleted / overwritten / visible, checked against an overlay-like reference model."""

from __future__ import annotations

from array import array
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.layer import Limits, walk_layer
from scanner.lineage import Lineage
from scanner.model import LayerSummary, path_hash
from tests.unit.layerfix import NullVisitor, make_layer, tar_bytes

Op = tuple[str, str]  # ("file" | "dir" | "whiteout" | "opaque", path)


def summary_of(ops: list[Op]) -> LayerSummary:
    summary = LayerSummary()
    paths: set[int] = set()
    nondir: set[int] = set()
    for kind, path in ops:
        if kind == "whiteout":
            summary.whiteouts.append(path)
            continue
        if kind == "opaque":
            summary.opaque_dirs.append(path)
        paths.add(path_hash(path))
        if kind == "file":
            nondir.add(path_hash(path))
    summary.paths = array("Q", sorted(paths))
    summary.nondir_paths = array("Q", sorted(nondir))
    return summary


def lineage_of(layers: list[list[Op]]) -> Lineage:
    return Lineage(summary_of(ops) for ops in layers)


def test_whiteout_in_later_layer_deletes_the_file() -> None:
    lineage = lineage_of([[("file", "app/.env")], [("file", "x")], [("whiteout", "app/.env")]])
    assert lineage.status("app/.env", 0) == ("deleted", 2)


def test_whiteout_of_an_ancestor_deletes_everything_below() -> None:
    lineage = lineage_of([[("file", "app/conf/key.pem")], [("whiteout", "app")]])
    assert lineage.status("app/conf/key.pem", 0) == ("deleted", 1)


def test_opaque_dir_deletes_lower_children_but_not_its_own_layer() -> None:
    lineage = lineage_of([[("file", "cache/a")], [("opaque", "cache"), ("file", "cache/b")]])
    assert lineage.status("cache/a", 0) == ("deleted", 1)
    assert lineage.status("cache/b", 1) == ("visible", None)


def test_whiteout_never_hides_its_own_layer() -> None:
    lineage = lineage_of([[("file", "a"), ("whiteout", "a")]])
    assert lineage.status("a", 0) == ("visible", None)


def test_same_path_in_later_layer_overwrites_and_first_event_wins() -> None:
    lineage = lineage_of([[("file", "etc/conf")], [("file", "etc/conf")], [("whiteout", "etc/conf")]])
    assert lineage.status("etc/conf", 0) == ("overwritten", 1)
    assert lineage.status("etc/conf", 1) == ("deleted", 2)
    assert lineage.status("etc/conf", 2) == ("visible", None)


def test_file_replacing_a_directory_deletes_its_children() -> None:
    lineage = lineage_of([[("dir", "d"), ("file", "d/secret")], [("file", "d")]])
    assert lineage.status("d/secret", 0) == ("deleted", 1)
    assert lineage.status("d", 0) == ("overwritten", 1)


def test_similar_prefix_is_not_an_ancestor() -> None:
    lineage = lineage_of([[("file", "app2/x")], [("whiteout", "app"), ("opaque", "app2x")]])
    assert lineage.status("app2/x", 0) == ("visible", None)


def test_lineage_from_walked_layers(tmp_path: Path) -> None:
    blobs = [
        tar_bytes([("app", None), ("app/secret.txt", b"s"), ("tmp/build.key", b"k")]),
        tar_bytes([("app/.wh.secret.txt", b""), ("tmp/build.key", b"replaced")]),
    ]
    summaries = [
        walk_layer(make_layer(tmp_path, blob, index=i, name=f"l{i}"), Limits(), NullVisitor())
        for i, blob in enumerate(blobs)
    ]
    lineage = Lineage(summaries)
    assert lineage.status("app/secret.txt", 0) == ("deleted", 1)
    assert lineage.status("tmp/build.key", 0) == ("overwritten", 1)
    assert lineage.status("app", 0) == ("visible", None)


def reference_model(layers: list[list[Op]]) -> dict[tuple[str, int], tuple[str, int | None]]:
    """Apply layers to a dict filesystem like an overlay does: this layer's deletions, then its additions."""
    fs: dict[str, int] = {}  # path -> layer that put the current entry there
    events: dict[tuple[str, int], tuple[str, int | None]] = {}

    def remove(predicate, layer: int) -> None:  # type: ignore[no-untyped-def]
        for path in [p for p in fs if predicate(p)]:
            events.setdefault((path, fs.pop(path)), ("deleted", layer))

    for m, ops in enumerate(layers):
        for kind, target in ops:
            if kind == "whiteout":
                remove(lambda p, t=target: p == t or p.startswith(t + "/"), m)
            elif kind in ("opaque", "file"):
                remove(lambda p, t=target: p.startswith(t + "/"), m)
        for kind, target in ops:
            if kind == "whiteout":
                continue
            previous = fs.get(target)
            if previous is not None and previous != m:
                events.setdefault((target, previous), ("overwritten", m))
            fs[target] = m
    queries: dict[tuple[str, int], tuple[str, int | None]] = {}
    for n, ops in enumerate(layers):
        for kind, target in ops:
            if kind != "whiteout":
                queries[(target, n)] = events.get((target, n), ("visible", None))
    return queries


segments = st.sampled_from(["a", "b", "c"])
paths = st.lists(segments, min_size=1, max_size=3).map("/".join)
ops = st.tuples(st.sampled_from(["file", "file", "dir", "whiteout", "opaque"]), paths)


def _with_opaque_dirs(layer: list[Op]) -> list[Op]:
    # A layer with an opaque marker always carries the directory entry itself, as real layers do.
    out: list[Op] = []
    for kind, path in layer:
        out.append((kind, path))
        if kind == "opaque":
            out.append(("dir", path))
    return out


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(ops, max_size=6), min_size=1, max_size=6))
def test_property_status_matches_reference_model(raw_layers: list[list[Op]]) -> None:
    layers = [_with_opaque_dirs(layer) for layer in raw_layers]
    lineage = lineage_of(layers)
    for (path, n), expected in reference_model(layers).items():
        assert lineage.status(path, n) == expected, (path, n, layers)
