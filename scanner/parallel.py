"""Both cores on one layer: this process walks it, worker processes run the detectors on batches of files."""

from __future__ import annotations

import multiprocessing
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor

from scanner.collect import Collector, Hit, LayerOutcome, failed
from scanner.detectors import DetectorConfig, DetectorSet
from scanner.detectors.base import Content
from scanner.image import Layer, Problem
from scanner.walk import Limits, Member, walk_layer

# One walk event: a member, or a window of its content.
Event = tuple[Member, Content | None]
BatchResult = tuple[list[Hit], dict[str, tuple[str, str, str]]]

_BATCH_BYTES = 2 << 20  # per hand-over: big enough to amortise pickling, small enough to keep both busy
_INLINE_BYTES = 8 << 20  # a file (with its nested entries) past this is scanned here, not buffered
_worker_detectors: DetectorSet | None = None


def pool(jobs: int, config: DetectorConfig) -> ProcessPoolExecutor:
    """Worker processes, each with its own detector set (detect-secrets and hyperscan state per process)."""
    return ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_init_worker,
        initargs=(config,),
    )


def _init_worker(config: DetectorConfig) -> None:
    global _worker_detectors
    _worker_detectors = DetectorSet(config)


def _scan_batch(layer_index: int, events: list[Event]) -> BatchResult:
    assert _worker_detectors is not None
    collector = Collector(_worker_detectors, layer_index)
    replay(collector, events)
    return collector.hits, collector.packaged


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
        self.packaged: dict[str, tuple[str, str, str]] = {}
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
                Problem(f"layer {self.layer_index}", f"detector worker failed: {type(exc).__name__}: {exc}")
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
    try:
        summary = walk_layer(layer, limits, dispatcher)
    except Exception as exc:  # a bug must not pass as a clean layer
        summary = failed(layer.index, f"internal error while walking the layer: {type(exc).__name__}: {exc}")
    dispatcher.finish()
    if dispatcher.problems:
        summary.problems.extend(dispatcher.problems)
        summary.complete = False
    packaged = {**dispatcher.packaged, **inline.packaged}
    return LayerOutcome(summary, dispatcher.hits + inline.hits, packaged)
