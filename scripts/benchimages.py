"""The Node and JVM benchmark images: benign real files (npm packages, Debian's Java libraries), built once.

Both start from the realistic image's Debian rootfs (benchlib.ensure_rootfs). Node: the machine's `node`
binary, then an app with a `node_modules` installed by `npm ci`-style `npm install` from the npm registry.
JVM: Debian's OpenJDK 17 runtime and ~90 Java library packages, unpacked with `dpkg-deb -x`, plus a Spring
Boot style executable jar (a launcher script before the zip, library jars stored under BOOT-INF/lib/).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

from benchlib import ImageInfo, LayerBlob, LayerWriter, ensure_rootfs, finish_image, log

NODE_PACKAGES = (
    "express@4", "lodash@4", "react@18", "react-dom@18", "axios@1", "moment@2", "typescript@5", "webpack@5",
    "@babel/core@7", "eslint@8", "jest@29", "next@14", "vue@3", "rxjs@7", "chalk@4", "commander@11",
    "pg@8", "mongoose@8", "redis@4", "jsonwebtoken@9", "bcryptjs@2", "dotenv@16", "winston@3", "yargs@17",
    "uuid@9", "ws@8", "socket.io@4", "prettier@3", "sass@1", "three@0.160",
)  # fmt: skip

JAVA_PACKAGES = (
    "openjdk-17-jre-headless", "libguava-java", "libcommons-lang3-java", "libcommons-io-java",
    "libcommons-collections4-java", "libcommons-codec-java", "libcommons-compress-java",
    "libcommons-text-java",
    "libjackson2-core-java", "libjackson2-databind-java", "libjackson2-annotations-java", "libslf4j-java",
    "liblog4j2-java", "libnetty-java", "libhttpclient-java", "libhttpcore-java", "libjetty9-java",
    "libtomcat9-java", "libspring-core-java", "libspring-beans-java", "libspring-context-java",
    "libspring-web-java", "libbcprov-java", "libbcpkix-java", "libjsoup-java", "libgoogle-gson-java",
    "libjna-java", "libasm-java", "libjaxb-api-java", "libxerces2-java", "libsnakeyaml-java",
    "libjoda-time-java", "libeclipse-jdt-core-java", "libhamcrest-java", "junit4", "libmockito-java",
    "libbyte-buddy-java", "libobjenesis-java", "libantlr4-runtime-java", "libprotobuf-java",
)  # fmt: skip


def _base(workdir: Path, folder: str) -> tuple[Path, list[LayerBlob], str]:
    """A build folder and the first layer every bench image shares: the Debian minbase rootfs (gzip)."""
    rootfs, how = ensure_rootfs(workdir)
    build = workdir / folder
    build.mkdir(parents=True, exist_ok=True)
    w = LayerWriter(build / "l1.tar.gz", "/bin/sh -c #(nop) ADD file:debian-bookworm-minbase in / ", "gzip")
    w.add_tree(rootfs, skip=lambda n: n.startswith(("dev/", "proc/", "sys/")))
    return build, [w.close()], how


def ensure_node_image(workdir: Path, rebuild: bool = False) -> ImageInfo:
    out = workdir / "node.tar"
    info = None if rebuild else ImageInfo.load(out)
    if info is not None:
        return info
    app = _node_app(workdir)
    build, blobs, how = _base(workdir, "build-node")
    w = LayerWriter(build / "l2.tar", "COPY /usr/bin/node /usr/local/bin/node # buildkit")
    w.add_bytes("usr/local/bin/node", Path(shutil.which("node") or "/usr/bin/node").read_bytes(), 0o755)
    blobs.append(w.close())
    w = LayerWriter(build / "l3.tar", "RUN /bin/sh -c npm ci --omit=dev # buildkit")
    w.add_tree(app, prefix="app")
    blobs.append(w.close())
    notes = [how, f"node_modules of {len(NODE_PACKAGES)} npm packages and their dependencies"]
    return finish_image(blobs, out, "imgscan-bench/node:latest", notes)


def _node_app(workdir: Path) -> Path:
    app = workdir / "node-app"
    if (app / "node_modules").is_dir():
        return app
    app.mkdir(parents=True, exist_ok=True)
    deps = {p.rsplit("@", 1)[0]: "^" + p.rsplit("@", 1)[1] for p in NODE_PACKAGES}
    (app / "package.json").write_text(
        json.dumps({"name": "bench-app", "version": "1.0.0", "dependencies": deps})
    )
    (app / "server.js").write_text(
        "const express = require('express');\nconst app = express();\n"
        "app.get('/health', (req, res) => res.send('ok'));\napp.listen(process.env.PORT || 3000);\n"
    )
    log(f"npm install of {len(NODE_PACKAGES)} packages (a few minutes)")
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--omit=dev"], cwd=app, check=True)
    return app


def ensure_jvm_image(workdir: Path, rebuild: bool = False) -> ImageInfo:
    out = workdir / "jvm.tar"
    info = None if rebuild else ImageInfo.load(out)
    if info is not None:
        return info
    java = _java_tree(workdir)
    build, blobs, how = _base(workdir, "build-jvm")
    w = LayerWriter(
        build / "l2.tar.gz", "RUN /bin/sh -c apt-get install -y openjdk-17-jre-headless ...", "gzip"
    )
    w.add_tree(java)
    blobs.append(w.close())
    w = LayerWriter(build / "l3.tar", "COPY target/app.jar /app/app.jar # buildkit")
    w.add_bytes("app/app.jar", _boot_jar(java), 0o755)
    blobs.append(w.close())
    notes = [how, f"{len(JAVA_PACKAGES)} Debian Java packages; a Spring Boot style executable jar"]
    return finish_image(blobs, out, "imgscan-bench/jvm:latest", notes)


def _java_tree(workdir: Path) -> Path:
    tree = workdir / "java-tree"
    if (tree / "usr").is_dir():
        return tree
    debs = workdir / "java-debs"
    debs.mkdir(parents=True, exist_ok=True)
    log(f"apt-get download of {len(JAVA_PACKAGES)} Java packages")
    subprocess.run(["apt-get", "update", "-qq"], check=False)
    for package in JAVA_PACKAGES:
        subprocess.run(["apt-get", "download", "-q", package], cwd=debs, check=False)
    tmp = workdir / "java-tree.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)], check=True)
    tmp.rename(tree)
    return tree


def _boot_jar(java: Path) -> bytes:
    """A launcher script, then a zip whose BOOT-INF/lib/ holds library jars stored without compression."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nMain-Class: org.example.Launcher\n")
        jar.writestr(
            "BOOT-INF/classes/application.properties", "server.port=8080\nspring.application.name=bench\n"
        )
        for lib in sorted((java / "usr/share/java").glob("*.jar"))[:40]:
            if lib.is_file() and not lib.is_symlink():
                jar.write(lib, f"BOOT-INF/lib/{lib.name}", compress_type=zipfile.ZIP_STORED)
    return b'#!/bin/sh\nexec java -jar "$0" "$@"\n' + buf.getvalue()
