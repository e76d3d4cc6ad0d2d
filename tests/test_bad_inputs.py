"""Bad input through the CLI: one clear line and exit 2, never a traceback, a hang or a "clean"."""

from __future__ import annotations

import io
import json
import os
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.broken import rewrite_members, truncate
from fixtures.build import FileSpec, ImageSpec, LayerSpec, base_layer, tutorial_insecure, write_image
from scanner import cli

MIB = 1 << 20


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """imgscan in this process (fast), exactly as the console script runs it."""
    old = sys.argv
    sys.argv = ["imgscan", *args]
    try:
        with pytest.raises(SystemExit) as exited:
            cli.main()
    finally:
        sys.argv = old
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err


def _image(tmp: Path, layers: list[LayerSpec], fmt: str = "oci-archive") -> Path:
    path = tmp / "image.tar"
    write_image(ImageSpec([base_layer(), *layers]), path, fmt)
    return path


def _raw_layer(tmp: Path, members: Callable[[tarfile.TarFile], None]) -> Path:
    """An image whose layer 1 is a tar written by hand (names and headers the builder won't write)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        members(tar)
    return _image(tmp, [LayerSpec([], "RUN hostile", raw_tar=buf.getvalue())], "docker-archive")


def _gzip_stream(total: int) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(MIB)
    return b"".join(comp.compress(chunk) for _ in range(total // MIB)) + comp.flush()


def _add(
    tar: tarfile.TarFile, name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = ""
) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data)
    tar.addfile(info, io.BytesIO(data))


def _nested_tgz(depth: int) -> bytes:
    data = b"innermost\n"
    for level in range(depth):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            _add(tar, f"level{level}.tar.gz" if level else "leaf.txt", data)
        data = buf.getvalue()
    return data


def _zip_bomb() -> bytes:
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("zeros.bin", "w", force_zip64=True) as fh,
    ):
        for _ in range(300):
            fh.write(bytes(MIB))
    return buf.getvalue()


def _corrupt_blob(tmp: Path, compression: str) -> Path:
    path = tmp / "image"
    write_image(
        ImageSpec(
            [
                base_layer(),
                LayerSpec([FileSpec("app/data.txt", os.urandom(4096).hex().encode())], "COPY", compression),
            ]
        ),
        path,
        "oci-layout",
    )
    magic = {"gzip": b"\x1f\x8b", "zstd": b"\x28\xb5\x2f\xfd"}[compression]
    (victim,) = [b for b in (path / "blobs" / "sha256").iterdir() if b.read_bytes().startswith(magic)]
    data = bytearray(victim.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 64] = bytes(64)
    victim.write_bytes(bytes(data))
    return path


FATAL: dict[str, Callable[[Path], Path]] = {
    "not a tar": lambda t: (t / "x.tar").write_bytes(b"hello, not a tar\n" * 100) and t / "x.tar",  # type: ignore[func-returns-value]
    "truncated outer tar": lambda t: _truncated(t),
    "invalid manifest json": lambda t: _rewritten(t, "manifest.json", b"[{not json"),
}


def _truncated(tmp: Path) -> Path:
    path = _image(tmp, [LayerSpec([FileSpec("a.txt", b"a" * 50_000)], "COPY")], "docker-archive")
    truncate(path, path.stat().st_size // 2)
    return path


def _rewritten(tmp: Path, member: str, data: bytes | None) -> Path:
    path = _image(tmp, [LayerSpec([FileSpec("a.txt", b"a")], "COPY")], "docker-archive")
    rewrite_members(path, path, {member: data})
    return path


@pytest.mark.parametrize("case", sorted(FATAL))
def test_unreadable_source_is_one_line_and_exit_2(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = FATAL[case](tmp_path)
    monkeypatch.setenv("TMPDIR", str(_tmpdir(tmp_path)))
    code, out, err = run_cli([str(target), "--no-cache"], capsys)
    assert code == 2
    assert out == ""
    assert err.startswith("imgscan: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert not list(_tmpdir(tmp_path).iterdir()), "temp files left behind"


INCONCLUSIVE: dict[str, Callable[[Path], Path]] = {
    "truncated layer": lambda t: _cut_layer(t),
    "corrupt gzip layer": lambda t: _corrupt_blob(t, "gzip"),
    "corrupt zstd layer": lambda t: _corrupt_blob(t, "zstd"),
    "missing blob": lambda t: _image(t, [LayerSpec([FileSpec("a", b"a")], "COPY", omit_blob=True)]),
    "digest mismatch": lambda t: _mismatched(t),
    "unknown media type": lambda t: _image(
        t, [LayerSpec([FileSpec("a", b"a")], "COPY", media_type="application/x-unknown-layer")]
    ),
    "foreign layer": lambda t: _image(
        t,
        [
            LayerSpec(
                [FileSpec("a", b"a")],
                "COPY",
                media_type="application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                urls=["https://example.invalid/layer"],
                omit_blob=True,
            )
        ],
    ),
    "gzip bomb": lambda t: _image(
        t, [LayerSpec([FileSpec("data/zeros.gz", _gzip_stream(300 * MIB))], "COPY")]
    ),
    "zip bomb": lambda t: _image(t, [LayerSpec([FileSpec("app/bomb.zip", _zip_bomb())], "COPY")]),
    "archives nested 20 deep": lambda t: _image(
        t, [LayerSpec([FileSpec("deep.tar.gz", _nested_tgz(20))], "COPY")]
    ),
    "huge pax header": lambda t: _raw_layer(t, _huge_pax),
    "invalid config json": lambda t: _bad_config(t),
}


def _cut_layer(tmp: Path) -> Path:
    path = _image(tmp, [LayerSpec([FileSpec("a.txt", os.urandom(20_000))], "COPY")], "docker-archive")
    with tarfile.open(path) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        name = manifest[0]["Layers"][1]
        data = outer.extractfile(name).read()  # type: ignore[union-attr]
    rewrite_members(path, path, {name: data[:7000]})
    return path


def _mismatched(tmp: Path) -> Path:
    path = _image(tmp, [LayerSpec([FileSpec("a.txt", b"original content\n")], "COPY")], "docker-archive")
    with tarfile.open(path) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        name = manifest[0]["Layers"][1]
        data = outer.extractfile(name).read()  # type: ignore[union-attr]
    rewrite_members(path, path, {name: data.replace(b"original", b"replaced")})
    return path


def _bad_config(tmp: Path) -> Path:
    path = _image(tmp, [LayerSpec([FileSpec("a", b"a")], "COPY")], "docker-archive")
    with tarfile.open(path) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
    rewrite_members(path, path, {manifest[0]["Config"]: b"{broken"})
    return path


def _huge_pax(tar: tarfile.TarFile) -> None:
    info = tarfile.TarInfo("big-header.txt")
    info.pax_headers = {"comment": "x" * (2 * MIB)}
    tar.addfile(info, io.BytesIO(b""))


@pytest.mark.parametrize("case", sorted(INCONCLUSIVE))
def test_content_not_read_in_full_is_inconclusive_never_clean(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = INCONCLUSIVE[case](tmp_path)
    monkeypatch.setenv("TMPDIR", str(_tmpdir(tmp_path)))
    code, out, err = run_cli([str(target), "--no-cache", "--format", "json"], capsys)
    assert code == 2, (out, err)
    assert "Traceback" not in err
    if out:  # a readable image with an unreadable part: a report that says so
        doc = json.loads(out)
        assert doc["verdict"] == "inconclusive"
        assert doc["problems"] or any(layer["problems"] for layer in doc["layers"])
    else:
        assert err.startswith("imgscan: error: ") and err.count("\n") == 1, err
    assert not list(_tmpdir(tmp_path).iterdir()), "temp files left behind"


def _hostile(tar: tarfile.TarFile) -> None:
    _add(tar, "../../../../tmp/imgscan-escape-test", b"escaped?\n")
    _add(tar, "./a/../../b", b"dots\n")
    _add(tar, "loop-a", kind=tarfile.SYMTYPE, link="loop-b")
    _add(tar, "loop-b", kind=tarfile.SYMTYPE, link="loop-a")
    _add(tar, "self", kind=tarfile.SYMTYPE, link="self")
    _add(tar, "hard-to-nothing", kind=tarfile.LNKTYPE, link="does/not/exist")
    _add(tar, "hard-loop", kind=tarfile.LNKTYPE, link="hard-loop")


def test_hostile_names_and_link_loops_are_read_as_names_and_nothing_escapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _raw_layer(tmp_path, _hostile)
    monkeypatch.setenv("TMPDIR", str(_tmpdir(tmp_path)))
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = run_cli([str(target), "--no-cache", "--format", "json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["verdict"] == "clean"
    notes = " ".join(p["what"] for layer in doc["layers"] for p in layer["problems"])
    assert "escape" in notes and "hard" in notes
    assert not Path("/tmp/imgscan-escape-test").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not list(_tmpdir(tmp_path).iterdir())


def _tmpdir(tmp_path: Path) -> Path:
    d = tmp_path / "tmp"
    d.mkdir(exist_ok=True)
    return d


def test_a_secret_in_a_layer_is_still_found_when_another_layer_is_unreadable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "image.tar"
    write_image(tutorial_insecure("still-found-pw-3"), path, "docker-archive")
    with tarfile.open(path) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        name = manifest[0]["Layers"][0]
        data = outer.extractfile(name).read()  # type: ignore[union-attr]
    rewrite_members(path, path, {name: data[:3000]})
    code, out, _ = run_cli([str(path), "--no-cache", "--format", "json"], capsys)
    doc = json.loads(out)
    assert code == 2 and doc["verdict"] == "inconclusive"
    assert doc["layers"][0]["status"] == "unreadable"
    assert any(f["rule"] == "credential-file/netrc" for f in doc["findings"])
