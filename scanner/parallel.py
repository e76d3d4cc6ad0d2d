"""Both cores on one layer: this process walks it, worker processes run the detectors on batches of files."""

from __future__ import annotations

import multiprocessing
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor

from scanner.blob import BlobLocation
from scanner.collect import Collector, bug_text, walk_safely
from scanner.detectors import DetectorSet
from scanner.detectors.base import Content
from scanner.image import Layer
from scanner.layer import Limits, Member, verify
from scanner.model import Hit, LayerOutcome, Owner, Problem

# One walk event: a member, or a window of its content.
Event = tuple[Member, Content | None]
BatchResult = tuple[list[Hit], dict[str, Owner]]

_BATCH_BYTES = 2 << 20  # per hand-over: big enough to amortise pickling, small enough to keep both busy
_INLINE_BYTES = 8 << 20  # a file (with its nested entries) past this is scanned here, not buffered
_worker_detectors: DetectorSet | None = None


def pool(jobs: int, detectors: DetectorSet) -> ProcessPoolExecutor:
    """Worker processes forked from this one: each inherits the compiled detector set instead of compiling
    its own (Hyperscan scratch space is made per process on first use)."""
    global _worker_detectors
    _worker_detectors = detectors
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"))


def _scan_batch(layer_index: int, events: list[Event]) -> BatchResult:
    assert _worker_detectors is not None
    collector = Collector(_worker_detectors, layer_index)
    replay(collector, events)
    return collector.hits, collector.packaged


EARLY_INDEX = -1  # a blob scanned before the manifest says which layer it is


def adopt(outcome: LayerOutcome, layer: Layer) -> LayerOutcome:
    """An early blob scan, told which layer it was: its problems named, its digests checked."""
    early = f"layer {EARLY_INDEX}"
    summary = outcome.summary
    summary.problems = [
        Problem(p.where.replace(early, f"layer {layer.index}", 1), p.what, p.inconclusive)
        for p in summary.problems
    ]
    if summary.complete:
        verify(layer, summary)
    return outcome


class EarlyScans:
    """Blob scans that run while a `docker save` stream is still arriving: one thread here walks each
    announced blob as soon as it is on disk (the workers scan its files), while the main thread goes on
    spooling. Blobs are keyed by where they lie on disk; the manifest, read last, says which layer is which.
    Scans run one at a time and are all finished before the main thread scans anything itself: the
    detector set here is not shared between threads."""

    def __init__(
        self, workers: ProcessPoolExecutor, jobs: int, detectors: DetectorSet, limits: Limits
    ) -> None:
        self.workers = workers
        self.jobs = jobs
        self.detectors = detectors
        self.limits = limits
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imgscan-early")
        self.futures: dict[tuple[object, ...], Future[LayerOutcome]] = {}

    def submit(self, loc: BlobLocation) -> None:
        layer = Layer(EARLY_INDEX, None, None, "", loc.size, loc)
        self.futures[loc.key] = self.thread.submit(
            scan_layer_parallel, layer, self.limits, self.detectors, self.workers, self.jobs
        )

    def finish(self) -> None:
        """Wait for every early scan (call before scanning anything else here)."""
        self.thread.shutdown(wait=True)

    def take(self, layer: Layer) -> LayerOutcome | None:
        """The early scan of this layer's blob, if there was one and it ran to the end."""
        future = self.futures.pop(layer.blob.key, None) if layer.blob is not None else None
        if future is None:
            return None
        try:
            return adopt(future.result(), layer)
        except Exception:  # a failed early scan is simply done again the ordinary way
            return None

    def close(self) -> None:
        for future in self.futures.values():
            future.cancel()
        self.thread.shutdown(wait=True)
        self.futures.clear()


def replay(collector: Collector, events: list[Event]) -> None:
    for member, content in events:
        if content is None:
            collector.member(member)
        else:
            collector.content(member, content)


class Dispatcher:
    """A walk visitor that groups each top-level member with its windows and nested entries (a unit, so
    per-file state such as line numbers stays in one process) and hands units to the workers in batches.
    A unit that grows past _INLINE_BYTES is scanned in this process instead: memory stays bounded."""

    def __init__(
        self, workers: ProcessPoolExecutor, inline: Collector, layer_index: int, in_flight: int
    ) -> None:
        self.workers = workers
        self.inline = inline
        self.layer_index = layer_index
        self.in_flight = in_flight
        self.pending: deque[Future[BatchResult]] = deque()
        self.hits: list[Hit] = []
        self.packaged: dict[str, Owner] = {}
        self.problems: list[Problem] = []
        self._batch: list[Event] = []
        self._batch_bytes = 0
        self._unit: list[Event] = []
        self._unit_bytes = 0
        self._unit_inline = False

    def member(self, member: Member) -> None:
        if member.inner_path is None:
            self._close_unit()
        self._event((member, None), 0)

    def content(self, member: Member, content: Content) -> None:
        self._event((member, content), len(content.data))

    def _event(self, event: Event, size: int) -> None:
        if self._unit_inline:
            replay(self.inline, [event])
            return
        self._unit.append(event)
        self._unit_bytes += size
        if self._unit_bytes > _INLINE_BYTES:
            self._unit_inline = True
            replay(self.inline, self._unit)
            self._unit, self._unit_bytes = [], 0

    def _close_unit(self) -> None:
        if self._unit:
            self._batch.extend(self._unit)
            self._batch_bytes += self._unit_bytes
        self._unit, self._unit_bytes, self._unit_inline = [], 0, False
        if self._batch_bytes >= _BATCH_BYTES:
            self._submit()

    def _submit(self) -> None:
        if not self._batch:
            return
        while len(self.pending) >= self.in_flight:
            self._collect(self.pending.popleft())
        self.pending.append(self.workers.submit(_scan_batch, self.layer_index, self._batch))
        self._batch, self._batch_bytes = [], 0

    def _collect(self, future: Future[BatchResult]) -> None:
        try:
            hits, packaged = future.result()
        except Exception as exc:  # a crashed worker is unread content, never clean content
            self.problems.append(
                Problem(f"layer {self.layer_index}", f"detector worker failed: {bug_text(exc)}")
            )
            return
        self.hits.extend(hits)
        self.packaged.update(packaged)

    def finish(self) -> None:
        self._close_unit()
        self._submit()
        while self.pending:
            self._collect(self.pending.popleft())


def scan_layer_parallel(
    layer: Layer, limits: Limits, detectors: DetectorSet, workers: ProcessPoolExecutor, jobs: int
) -> LayerOutcome:
    """Walk one layer here while `workers` scan its files; the same hits as a walk in one process."""
    inline = Collector(detectors, layer.index)
    dispatcher = Dispatcher(workers, inline, layer.index, in_flight=2 * jobs)
    summary = walk_safely(layer, limits, dispatcher)
    dispatcher.finish()
    if dispatcher.problems:
        summary.problems.extend(dispatcher.problems)
        summary.complete = False
    packaged = {**dispatcher.packaged, **inline.packaged}
    return LayerOutcome(summary, dispatcher.hits + inline.hits, packaged)
