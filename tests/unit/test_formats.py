"""Manifest, index and config parsing under scanner/sources: each distinct blob read once, counts bounded,
JSON read as the runtimes' Go decoder reads it, every document's bytes kept for the metadata scan."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import pytest

from fixtures.broken import rewrite_members
from fixtures.build import canonical_json, tutorial_insecure, write_image, write_index
from scanner.blob import BlobLocation
from scanner.errors import FormatError
from scanner.sources import docker_archive, images, oci, open_images
from scanner.sources.archive import TarStore
from scanner.sources.config import map_history
from scanner.sources.manifests import JsonReader, go_field, json_list_items, parse_json
from tests.unit.test_sources_index import platform_specs


def test_json_list_items_keep_each_entry_s_own_bytes() -> None:
    raw = b' [ {"a": 1},\n{"b": "x", "b": "y"} ] \n'

    items = json_list_items(raw)

    assert [value for value, _ in items] == [{"a": 1}, {"b": "y"}]
    assert [part for _, part in items] == [b'{"a": 1}', b'{"b": "x", "b": "y"}']


@pytest.mark.parametrize("raw", [b"[1] [2]", b"[1,", b"{}", b"[1 2]"])
def test_json_list_items_refuse_anything_but_one_array(raw: bytes) -> None:
    with pytest.raises(ValueError):
        json_list_items(raw)


def test_field_names_that_differ_only_in_case_are_refused_as_go_would_read_another_value() -> None:
    with pytest.raises(ValueError, match="differ only in case"):
        parse_json(b'{"layers": [], "Layers": [{"digest": "x"}]}')


def test_map_keys_that_differ_only_in_case_are_ordinary_data() -> None:
    assert parse_json(b'{"Labels": {"token": "a", "Token": "b"}}') == {"Labels": {"token": "a", "Token": "b"}}


def test_go_field_matches_a_struct_field_ignoring_case() -> None:
    assert go_field({"config": "c.json"}, "Config") == "c.json"
    assert go_field({"Config": "exact"}, "Config") == "exact"
    assert go_field({}, "Config") is None


class _CountingStore:
    """A store over a real archive that counts how often each name is read."""

    def __init__(self, store: TarStore) -> None:
        self.inner = store
        self.label = store.label
        self.container = store.container
        self.located: dict[str, int] = {}

    def locate(self, name: str) -> BlobLocation | None:
        self.located[name] = self.located.get(name, 0) + 1
        return self.inner.locate(name)

    def names(self) -> Iterable[str]:
        return self.inner.names()

    def link_target(self, name: str) -> str | None:
        return self.inner.link_target(name)


def _legacy_with_entries(tmp_path: Path, count: int) -> Path:
    good = tmp_path / "good.tar"
    write_image(tutorial_insecure("fake-pw-77"), good, "docker-archive")
    loc = TarStore(good, "good").locate("manifest.json")
    assert loc is not None
    with loc.open() as f:
        [entry] = json.loads(f.read())
    entries = [{**entry, "RepoTags": [f"imgscan-test/many:{i}"]} for i in range(count)]
    bad = tmp_path / "many.tar"
    rewrite_members(good, bad, {"manifest.json": canonical_json(entries)})
    return bad


def test_many_manifest_entries_naming_one_image_are_one_image_read_once(tmp_path: Path) -> None:
    path = _legacy_with_entries(tmp_path, 3000)
    store = _CountingStore(TarStore(path, "many"))

    [image] = images.read_images(store, "many")

    assert len(image.repo_tags) == 3000
    config_reads = [n for n in store.located if n.endswith(".json") and n != "manifest.json"]
    assert config_reads and all(store.located[n] == 1 for n in config_reads)
    [doc] = [d for d in image.metadata if d.where == "manifest.json"]
    assert doc.raw.count(b"imgscan-test/many:") == 3000


def test_manifest_json_with_more_entries_than_the_limit_is_refused(tmp_path: Path) -> None:
    path = _legacy_with_entries(tmp_path, docker_archive.MAX_ENTRIES + 1)

    with pytest.raises(FormatError, match="over the limit"):
        open_images(str(path), tmp_path)


def test_more_distinct_images_than_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oci, "MAX_IMAGES", 1)
    write_index(platform_specs(), tmp_path / "multi.tar", "oci-archive")

    with pytest.raises(FormatError, match="over 1 images"):
        open_images(str(tmp_path / "multi.tar"), tmp_path)


def test_an_image_with_more_layers_than_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docker_archive, "MAX_LAYERS", 2)
    write_image(tutorial_insecure("fake-pw-77"), tmp_path / "a.tar", "docker-archive")

    with pytest.raises(FormatError, match="over the limit of 2"):
        open_images(str(tmp_path / "a.tar"), tmp_path)


def test_indexes_nested_past_the_limit_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oci, "MAX_INDEX_DEPTH", 0)
    write_index(platform_specs(), tmp_path / "multi.tar", "oci-archive")

    with pytest.raises(FormatError, match="nested deeper than 0"):
        open_images(str(tmp_path / "multi.tar"), tmp_path)


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive", "docker25-archive"])
def test_every_metadata_document_keeps_its_stored_bytes(tmp_path: Path, fmt: str) -> None:
    write_image(tutorial_insecure("fake-pw-77"), tmp_path / "a.tar", fmt)

    [image] = open_images(str(tmp_path / "a.tar"), tmp_path)

    for doc in image.metadata:
        assert doc.raw, doc.where
        assert json.loads(doc.raw) == doc.data or doc.where == "manifest.json", doc.where
    config = next(d for d in image.metadata if d.area == "config")
    assert "sha256:" + hashlib.sha256(config.raw).hexdigest() == image.id


def test_history_rows_take_layers_in_order_and_empty_rows_take_none() -> None:
    rows = [{"created_by": "a"}, {"created_by": "b", "empty_layer": True}, {"created_by": "c"}]

    history, problems = map_history(rows, 2)

    assert [h.layer_index for h in history] == [0, None, 1]
    assert problems == []


def test_more_history_rows_than_layers_is_reported_not_fatal() -> None:
    history, problems = map_history([{"created_by": "a"}, {"created_by": "b"}], 1)

    assert [h.layer_index for h in history] == [0, None]
    assert [p.where for p in problems] == ["config.history"]
    assert not problems[0].inconclusive


def test_json_reader_reads_a_document_once(tmp_path: Path) -> None:
    write_image(tutorial_insecure("fake-pw-77"), tmp_path / "a.tar", "oci-archive")
    store = _CountingStore(TarStore(tmp_path / "a.tar", "a"))
    reader = JsonReader(store)

    first = reader.fatal("index.json", "index")
    again = reader.fatal("index.json", "index")

    assert first[0] is again[0]
    assert store.located["index.json"] == 1


def test_images_that_share_a_config_share_one_config_document(tmp_path: Path) -> None:
    good, two = tmp_path / "good.tar", tmp_path / "two.tar"
    write_image(tutorial_insecure("fake-pw-77"), good, "docker-archive")
    loc = TarStore(good, "good").locate("manifest.json")
    assert loc is not None
    with loc.open() as f:
        [entry] = json.loads(f.read())
    shorter = {**entry, "Layers": entry["Layers"][:1], "RepoTags": ["imgscan-test/short:1"]}
    rewrite_members(good, two, {"manifest.json": canonical_json([entry, shorter])})

    first, second = open_images(str(two), tmp_path)

    [config_a] = [d for d in first.metadata if d.area == "config"]
    [config_b] = [d for d in second.metadata if d.area == "config"]
    assert config_a is config_b
    assert len(first.layers) == 3 and len(second.layers) == 1


def test_an_index_listing_more_manifests_than_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oci, "MAX_ENTRIES", 2)
    write_index(platform_specs(), tmp_path / "multi.tar", "oci-archive")  # 1 + 2 images + 2 attestations

    with pytest.raises(FormatError, match="over 2 manifests"):
        open_images(str(tmp_path / "multi.tar"), tmp_path)
