"""One reference parser with skopeo's transport names, and one registry of sources picked by transport."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.build import tutorial_insecure, write_image
from scanner.errors import SourceError, UsageError
from scanner.sources import SOURCES, open_images, parse_reference, source_for
from scanner.sources.archive import ArchiveSource
from scanner.sources.daemon import DaemonSource
from scanner.sources.interface import Reference
from scanner.sources.layout import LayoutSource
from scanner.sources.registry import RegistrySource


@pytest.mark.parametrize(
    ("text", "transport", "location"),
    [
        ("my-app:1", "docker-daemon", "my-app:1"),
        ("docker:latest", "docker-daemon", "docker:latest"),  # a bare NAME:TAG keeps its meaning
        ("docker-daemon:my-app:1", "docker-daemon", "my-app:1"),
        ("docker://registry.example.com/app:1", "docker", "registry.example.com/app:1"),
        (
            "docker://registry.example.com/app@sha256:" + "a" * 64,
            "docker",
            "registry.example.com/app@sha256:" + "a" * 64,
        ),
    ],
)
def test_names_parse_to_skopeo_transports(text: str, transport: str, location: str) -> None:
    ref = parse_reference(text)

    assert (ref.text, ref.transport, ref.location, ref.name) == (text, transport, location, None)


def test_paths_parse_to_archive_and_layout_transports(tmp_path: Path) -> None:
    (tmp_path / "a.tar").write_bytes(b"x")
    (tmp_path / "dir").mkdir()

    assert parse_reference(str(tmp_path / "a.tar")).transport == "docker-archive"
    assert parse_reference(str(tmp_path / "dir")).transport == "oci"
    ref = parse_reference(f"docker-archive:{tmp_path / 'a.tar'}:my-app:1")
    assert (ref.transport, ref.location, ref.name) == ("docker-archive", str(tmp_path / "a.tar"), "my-app:1")
    assert parse_reference(f"oci:{tmp_path / 'dir'}").location == str(tmp_path / "dir")


@pytest.mark.parametrize("text", ["./missing.tar", "/nowhere/app", "app.tar.gz", "oci-archive:/nowhere.tar"])
def test_a_missing_path_is_a_source_error_not_a_daemon_name(text: str) -> None:
    with pytest.raises(SourceError, match="no such file"):
        parse_reference(text)


def test_oci_transport_wants_a_directory(tmp_path: Path) -> None:
    (tmp_path / "a.tar").write_bytes(b"x")

    with pytest.raises(SourceError, match="not a directory"):
        parse_reference(f"oci:{tmp_path / 'a.tar'}")


@pytest.mark.parametrize("text", ["", "docker-daemon:", "docker://"])
def test_a_reference_that_names_nothing_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_reference(text)


def test_each_transport_has_exactly_one_source() -> None:
    transports = [t for source in SOURCES for t in source.transports]

    assert sorted(transports) == sorted(set(transports))
    assert {"docker-daemon", "docker", "docker-archive", "oci-archive", "oci"} <= set(transports)
    assert isinstance(source_for(Reference("x", "docker-daemon", "x")), DaemonSource)
    assert isinstance(source_for(Reference("x", "oci-archive", "x")), ArchiveSource)
    assert isinstance(source_for(Reference("x", "oci", "x")), LayoutSource)


def test_registry_reference_is_read_by_the_registry_source() -> None:
    assert isinstance(source_for(Reference("x", "docker", "127.0.0.1:5000/app:1")), RegistrySource)


def test_only_a_daemon_reference_names_a_daemon_image(tmp_path: Path) -> None:
    (tmp_path / "a.tar").write_bytes(b"x")

    def daemon(text: str) -> str | None:
        ref = parse_reference(text)
        return ref.location if ref.transport == "docker-daemon" else None

    assert daemon("my-app:1") == "my-app:1"
    assert daemon("docker-daemon:my-app:1") == "my-app:1"
    assert daemon("docker://registry.example.com/app:1") is None
    assert daemon(str(tmp_path / "a.tar")) is None


def test_open_images_takes_a_parsed_reference(tmp_path: Path) -> None:
    built = write_image(tutorial_insecure("fake-pw-77"), tmp_path / "a.tar", "docker-archive")

    [image] = open_images(parse_reference(f"docker-archive:{tmp_path / 'a.tar'}"), tmp_path)

    assert image.id == built.config_digest and image.reference == f"docker-archive:{tmp_path / 'a.tar'}"


def test_archive_and_layout_sources_have_no_cheap_identity(tmp_path: Path) -> None:
    (tmp_path / "a.tar").write_bytes(b"x")
    ref = parse_reference(str(tmp_path / "a.tar"))

    assert source_for(ref).identity(ref) is None
