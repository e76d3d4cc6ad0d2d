"""The audit report's layer-stack picture: a bar per layer sized by its bytes, each finding marked on it."""

from __future__ import annotations

from dataclasses import dataclass

from scanner.findings import Finding
from scanner.report import common
from scanner.result import ScanReport


@dataclass(frozen=True)
class Marker:
    """A finding on a layer's bar: where it was `added`, or where a whiteout or overwrite hid it."""

    kind: str  # "added" | "deleted" | "overwritten" | "whiteout"
    severity: str
    rule: str
    text: str


@dataclass(frozen=True)
class Bar:
    index: int
    created_by: str
    size: str  # human bytes
    bytes: int
    width: str  # percent of the image's largest layer, as CSS wants it
    status: str
    markers: tuple[Marker, ...]
    others: int  # findings in this layer that the report does not show in full


@dataclass(frozen=True)
class Stack:
    label: str
    bars: tuple[Bar, ...]  # oldest (base) first


def stacks(report: ScanReport, shown: list[Finding]) -> list[Stack]:
    """One stack per image; `shown` findings get markers, the others a count per layer."""
    marks: dict[tuple[int, int], list[Marker]] = {}
    for f in shown:
        for (image, layer), marker in _markers(report, f):
            here = marks.setdefault((image, layer), [])
            if marker not in here:
                here.append(marker)
    full = {id(f) for f in shown}
    others: dict[tuple[int, int | None], int] = {}
    for f in report.findings:
        if id(f) not in full and f.location.kind == "layer":
            key = (f.location.image_index, f.location.layer_index)
            others[key] = others.get(key, 0) + 1
    out = []
    for image_index in range(max(1, len(report.images))):
        layers = [x for x in report.layers if x.image_index == image_index]
        largest = max((x.bytes for x in layers), default=0)
        bars = tuple(
            Bar(
                index=x.index,
                created_by=common.history_line(x.created_by, 90),
                size=common.human_bytes(x.bytes),
                bytes=x.bytes,
                width=f"{100 * x.bytes / largest:.4f}" if largest else "0",
                status=x.status,
                markers=tuple(marks.get((image_index, x.index), ())),
                others=others.get((image_index, x.index), 0),
            )
            for x in layers
        )
        out.append(Stack(_label(report, image_index), bars))
    return out


def _label(report: ScanReport, image_index: int) -> str:
    if image_index >= len(report.images):
        return report.reference
    image = report.images[image_index]
    return image.reference + (f" ({image.platform})" if image.platform and len(report.images) > 1 else "")


def _markers(report: ScanReport, f: Finding) -> list[tuple[tuple[int, int], Marker]]:
    loc = f.location
    if loc.kind != "layer" or loc.layer_index is None:
        return []
    severity = f.severity.label
    where = f"/{loc.path}" + (f"!{loc.inner_path}" if loc.inner_path else "")
    if common.is_whiteout(report, f):
        text = f"{where} deleted here ({f.rule}); its bytes stay in a lower layer"
        return [((loc.image_index, loc.layer_index), Marker("whiteout", severity, f.rule, text))]
    out = [
        ((loc.image_index, loc.layer_index), Marker("added", severity, f.rule, f"{where} added ({f.rule})"))
    ]
    if f.status in ("deleted", "overwritten") and f.status_layer is not None:
        text = f"{where} {f.status} here ({f.rule}); still in layer {loc.layer_index}"
        out.append(((loc.image_index, f.status_layer), Marker(f.status, severity, f.rule, text)))
    return out
