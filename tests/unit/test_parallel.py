"""Both cores on one layer: workers give the same hits as one process; a failed worker is unread content."""

from __future__ import annotations

from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import pytest

from scanner import parallel
from scanner.collect import scan_layer
from scanner.detectors import DetectorSet
from scanner.image import Layer
from scanner.layer import Limits
from tests.unit.layerfix import make_layer, sha, tar_bytes

pytestmark = pytest.mark.usefixtures("fixed_key")
TOKEN = "ghp_" + "Fx9k2LmQ7rTz4WbN8vYc1HdJ6sPa3GeU0oKi"  # fake


def _many_files_layer(tmp_path: Path) -> Layer:
    entries: list[tuple[str, bytes | str | None]] = [("app/", None)]
    for i in range(60):
        body = (f"# file {i}\n" + "x = 1\n" * 20_000).encode()  # ~120 KB: several batches
        if i % 7 == 0:
            body += f"export T{i}={TOKEN}\n".encode()
        entries.append((f"app/f{i}.sh", body))
    big = ("y = 2\n" * 1_600_000 + f"export BIG={TOKEN}\n").encode()  # past _INLINE_BYTES: scanned here
    entries.append(("app/big.sh", big))
    blob = tar_bytes(entries)
    return make_layer(tmp_path, blob, diff_id=sha(blob), compressed=False)


def _hits(outcome: object) -> list[tuple[object, ...]]:
    return sorted((h.rule, h.path, h.line, h.fingerprint, h.excerpt) for h in outcome.hits)  # type: ignore[attr-defined]


def test_worker_processes_give_the_same_hits_as_one_process(tmp_path: Path, detectors: DetectorSet) -> None:
    layer = _many_files_layer(tmp_path)
    one = scan_layer(layer, Limits(), detectors)
    with parallel.pool(2, detectors) as workers:
        two = parallel.scan_layer_parallel(layer, Limits(), detectors, workers, 2)
    assert _hits(one) and _hits(one) == _hits(two)
    assert ("app/big.sh", 1_600_001) in {(h.path, h.line) for h in two.hits}
    assert (one.summary.files, one.summary.bytes, one.summary.complete) == (
        two.summary.files,
        two.summary.bytes,
        two.summary.complete,
    )


class _FailingPool(ProcessPoolExecutor):
    """A pool whose every batch fails, as when a worker process dies."""

    def submit(self, *_: object, **__: object) -> Future[object]:  # type: ignore[override]
        future: Future[object] = Future()
        future.set_exception(RuntimeError(f"worker died holding {TOKEN}"))
        return future


def test_a_failed_worker_makes_the_layer_unread_and_says_so_without_its_message(
    tmp_path: Path, detectors: DetectorSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IMGSCAN_DEBUG", raising=False)
    layer = _many_files_layer(tmp_path)
    with _FailingPool(max_workers=1) as workers:
        outcome = parallel.scan_layer_parallel(layer, Limits(), detectors, workers, 1)
    assert not outcome.summary.complete
    assert outcome.summary.problems and all(p.inconclusive for p in outcome.summary.problems)
    assert all("detector worker failed" in p.what and TOKEN not in p.what for p in outcome.summary.problems)


def test_an_early_blob_scan_is_adopted_under_its_layer_and_its_digests_checked(
    tmp_path: Path, detectors: DetectorSet
) -> None:
    blob = tar_bytes([("a.sh", f"export T={TOKEN}\n")])
    layer = make_layer(tmp_path, blob, index=4, diff_id=sha(b"other bytes"), compressed=False)
    early = Layer(parallel.EARLY_INDEX, None, None, "", layer.size, layer.blob)
    outcome = parallel.adopt(scan_layer(early, Limits(), detectors), layer)
    assert not outcome.summary.complete
    assert [p.where for p in outcome.summary.problems] == ["layer 4"]
    assert "mismatch" in outcome.summary.problems[0].what
