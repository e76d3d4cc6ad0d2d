"""Fleet scans on real Dask clusters equal single scans, scan each unique layer once, reuse the store."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from fixtures.build import (
    FileSpec,
    ImageSpec,
    LayerSpec,
    base_layer,
    tutorial_insecure,
    tutorial_secure,
    write_image,
)
from scanner.findings import reset_fingerprint_key
from scanner.fleet import report as fleet_report
from scanner.fleet.run import FleetResult, run_fleet
from scanner.result import ScanReport
from scanner.scan import run_scan
from scanner.settings import Settings

KEY = "imgscan-fleet-tests-fingerprint-key-0123456789abcdef"
REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Vx7Qm2Lp9Rt4Wn8Ks3"


@pytest.fixture(autouse=True)
def fingerprint_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("IMGSCAN_FINGERPRINT_KEY", KEY)
    reset_fingerprint_key()
    yield
    reset_fingerprint_key()


@pytest.fixture(scope="module")
def fleet_images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four images, three formats, sharing the base layer; one leaks a netrc."""
    folder = tmp_path_factory.mktemp("fleet")
    app = ImageSpec([base_layer(), LayerSpec([FileSpec("app/main.py", b"print('hi')\n")], "COPY app /app")])
    paths = []
    for name, spec, fmt in (
        ("insecure.tar", tutorial_insecure(PASSWORD), "docker-archive"),
        ("secure.tar", tutorial_secure(), "oci-archive"),
        ("secure-legacy.tar", tutorial_secure(), "docker-archive"),
        ("app.tar", app, "podman-archive"),
    ):
        write_image(spec, folder / name, fmt)
        paths.append(folder / name)
    return paths


def _single(path: Path, settings: Settings) -> ScanReport:
    return run_scan(str(path), replace(settings, cache_dir=None, jobs=1))


def _same_findings(a: ScanReport, b: ScanReport) -> None:
    def key(r: ScanReport) -> list[tuple[str, str, str, str]]:
        return sorted((f.rule, f.fingerprint, f.severity.label, f.location.describe()) for f in r.findings)

    assert a.verdict == b.verdict
    assert key(a) == key(b)
    assert [(lay.diff_id, lay.files, lay.bytes) for lay in a.layers] == [
        (lay.diff_id, lay.files, lay.bytes) for lay in b.layers
    ]


def _check_against_single(result: FleetResult, images: list[Path], settings: Settings) -> None:
    assert [i.reference for i in result.images] == [str(p) for p in images]
    for outcome, path in zip(result.images, images, strict=True):
        assert outcome.report is not None, outcome.error
        _same_findings(outcome.report, _single(path, settings))


def test_local_cluster_equals_single_scans_and_the_rerun_scans_nothing(
    fleet_images: list[Path], tmp_path: Path
) -> None:
    settings = Settings(cache_dir=tmp_path / "store", jobs=1)
    first = run_fleet([str(p) for p in fleet_images], settings, workers=2)
    _check_against_single(first, fleet_images, settings)
    layers_per_image = [len(i.report.layers) for i in first.images if i.report is not None]
    assert first.total_layers == sum(layers_per_image)
    assert first.unique_layers < first.total_layers  # the base layer is shared
    assert first.scanned == first.unique_layers and first.from_store == 0
    assert fleet_report.fleet_verdict(first) == "findings"
    second = run_fleet([str(p) for p in fleet_images], settings, workers=1)
    assert second.scanned == 0 and second.from_store == second.unique_layers
    _check_against_single(second, fleet_images, settings)
    doc = json.loads(fleet_report.render_json(second))
    assert doc["schema"] == "imgscan/fleet/v1"
    assert doc["layers"] == {"total": second.total_layers, "unique": second.unique_layers, "scanned": 0,
                             "from_store": second.unique_layers, "unreadable": 0}  # fmt: skip
    assert [i["verdict"] for i in doc["images"]] == ["findings", "clean", "clean", "clean"]
    assert all(i["report"]["schema"] == "imgscan/report/v1" for i in doc["images"])
    assert PASSWORD not in json.dumps(doc)


def test_an_unresolvable_reference_makes_the_fleet_inconclusive(
    fleet_images: list[Path], tmp_path: Path
) -> None:
    settings = Settings(cache_dir=tmp_path / "store", jobs=1)
    result = run_fleet([str(fleet_images[1]), str(tmp_path / "missing.tar")], settings, workers=1)
    assert [fleet_report.image_verdict(i) for i in result.images] == ["clean", "inconclusive"]
    assert fleet_report.fleet_verdict(result) == "inconclusive"
    assert "missing.tar" in fleet_report.render_text(result)


def _start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(pattern: str, log: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(errors="replace"))
        if found:
            return found
        assert proc.poll() is None, log.read_text(errors="replace")
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} not in {log}: {log.read_text(errors='replace')[-2000:]}")


def test_scheduler_and_workers_started_with_the_dask_cli(fleet_images: list[Path], tmp_path: Path) -> None:
    dask = str(Path(sys.executable).with_name("dask"))
    scheduler = _start([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
                       tmp_path / "scheduler.log")  # fmt: skip
    procs = [scheduler]
    try:
        address = _wait_for(
            r"Scheduler at:\s+(tcp://127\.0\.0\.1:\d+)", tmp_path / "scheduler.log", scheduler
        )[1]
        worker = _start([dask, "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
                        tmp_path / "worker.log")  # fmt: skip
        procs.append(worker)
        _wait_for(r"Registered to", tmp_path / "worker.log", worker)
        env = dict(os.environ, IMGSCAN_FINGERPRINT_KEY=KEY, PYTHONPATH=str(REPO))
        argv = [sys.executable, "-m", "scanner.cli", "fleet", *map(str, fleet_images), "--scheduler", address,
                "--store", str(tmp_path / "store"), "--format", "json", "--no-progress"]  # fmt: skip
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 1, done.stderr  # the worst image has findings
        doc = json.loads(done.stdout)
        assert doc["layers"]["scanned"] == doc["layers"]["unique"]
        settings = Settings(jobs=1)
        for entry, path in zip(doc["images"], fleet_images, strict=True):
            single = json.loads(_render_json(_single(path, settings)))
            assert entry["verdict"] == single["verdict"]
            assert sorted(f["fingerprint"] for f in entry["report"]["findings"]) == sorted(
                f["fingerprint"] for f in single["findings"]
            )
    finally:
        for proc in reversed(procs):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def _render_json(report: ScanReport) -> str:
    from scanner.report import render

    return render(report, "json")


def test_a_worker_killed_during_a_layer_still_gives_the_right_result(tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    # A layer big enough to be caught mid-scan, with a secret at its end.
    files = [FileSpec(f"data/{i}.bin", os.urandom(16 << 20)) for i in range(6)]
    files.append(FileSpec("root/.netrc", f"machine x login a password {PASSWORD}\n".encode()))
    path = tmp_path / "big.tar"
    write_image(ImageSpec([base_layer(), LayerSpec(files, "COPY . /")]), path, "docker-archive")
    settings = Settings(cache_dir=tmp_path / "store", jobs=1)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        holder: dict[str, FleetResult] = {}
        thread = threading.Thread(
            target=lambda: holder.setdefault("r", run_fleet([str(path)], settings, cluster.scheduler_address))
        )
        thread.start()
        killed = False
        deadline = time.monotonic() + 120
        while thread.is_alive() and not killed and time.monotonic() < deadline:
            for address, keys in client.processing().items():
                if any(str(k).startswith("imgscan-layer-") for k in keys):
                    pid = client.run(os.getpid, workers=[address])[address]
                    os.kill(pid, signal.SIGKILL)
                    killed = True
                    break
            time.sleep(0.01)
        thread.join(timeout=300)
    assert killed, "no layer task was seen running"
    result = holder["r"]
    assert result.images[0].report is not None, result.images[0].error
    _same_findings(result.images[0].report, _single(path, settings))
    assert result.images[0].report.verdict == "findings"


def test_ctrl_c_cancels_the_fleet_and_leaves_only_whole_results(tmp_path: Path) -> None:
    files = [FileSpec(f"data/{i}.bin", os.urandom(16 << 20)) for i in range(6)]
    images = []
    for n in range(6):
        path = tmp_path / f"big-{n}.tar"
        extra = FileSpec(f"etc/image-{n}", b"x")
        write_image(
            ImageSpec([base_layer(), LayerSpec([*files, extra], f"COPY {n} /")]), path, "docker-archive"
        )
        images.append(path)
    store = tmp_path / "store"
    env = dict(os.environ, IMGSCAN_FINGERPRINT_KEY=KEY, PYTHONPATH=str(REPO))
    argv = [sys.executable, "-m", "scanner.cli", "fleet", *map(str, images), "--workers", "1", "--store",
            str(store), "--no-progress"]  # fmt: skip
    # A shell without job control starts background jobs with SIGINT ignored: give the child a real Ctrl-C.
    proc = subprocess.Popen(
        argv,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while not (store / "layers").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # the first layer result landed: the others are being scanned
    # Ctrl-C, pressed again while it has not taken (a signal landing inside Dask's own wait is absorbed).
    while proc.poll() is None and time.monotonic() < deadline:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert "interrupted" in err and "Traceback" not in err
    stored = [p for p in store.rglob("*") if p.is_file()]
    assert all(not p.name.startswith(".tmp") for p in stored)
    for entry in stored:
        json.loads(entry.read_text())  # every entry in the store is whole
