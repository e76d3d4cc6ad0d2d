"""Fleet reports: imgscan/fleet/v1 JSON, a text summary, and an HTML audit page; the worst verdict wins."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from scanner.fleet.run import FleetResult, ImageOutcome
from scanner.result import VERDICT_CLEAN, VERDICT_FINDINGS, VERDICT_INCONCLUSIVE, LayerReport

SCHEMA = "imgscan/fleet/v1"
_RANK = {VERDICT_CLEAN: 0, VERDICT_FINDINGS: 1, VERDICT_INCONCLUSIVE: 2}


def image_verdict(image: ImageOutcome) -> str:
    return image.report.verdict if image.report is not None else VERDICT_INCONCLUSIVE


def fleet_verdict(result: FleetResult) -> str:
    """The worst image's verdict (inconclusive > findings > clean); an empty fleet certifies nothing."""
    if not result.images:
        return VERDICT_INCONCLUSIVE
    return max((image_verdict(i) for i in result.images), key=lambda v: _RANK.get(v, 2))


@dataclass(frozen=True)
class SharedLayer:
    """A layer that several images share, and what was found in it."""

    diff_id: str
    created_by: str
    images: tuple[str, ...]
    findings: tuple[tuple[str, str], ...]  # (rule, severity) of each gating finding added by the layer


def shared_layers(result: FleetResult) -> list[SharedLayer]:
    """Layers used by more than one image, those with gating findings first ("leaks a key into 14 images")."""
    from scanner.report import common

    users: dict[str, list[str]] = {}
    created: dict[str, str] = {}
    found: dict[str, set[tuple[str, str]]] = {}
    for image in result.images:
        report = image.report
        if report is None:
            continue
        by_index: dict[tuple[int, int | None], LayerReport] = {
            (layer.image_index, layer.index): layer for layer in report.layers
        }
        for layer in report.layers:
            if layer.diff_id:
                users.setdefault(layer.diff_id, [])
                if image.reference not in users[layer.diff_id]:
                    users[layer.diff_id].append(image.reference)
                created.setdefault(layer.diff_id, layer.created_by or "")
        for f in common.gating(report):
            where = by_index.get((f.location.image_index, f.location.layer_index))
            if f.location.kind == "layer" and where is not None and where.diff_id:
                found.setdefault(where.diff_id, set()).add((f.rule, f.severity.label))
    out = [
        SharedLayer(d, created[d], tuple(refs), tuple(sorted(found.get(d, set()))))
        for d, refs in users.items()
        if len(refs) > 1
    ]
    return sorted(out, key=lambda s: (not s.findings, -len(s.images), s.diff_id))


def render_json(result: FleetResult) -> str:
    from scanner.report import render

    images: list[dict[str, Any]] = []
    for image in result.images:
        entry: dict[str, Any] = {"reference": image.reference, "verdict": image_verdict(image)}
        entry["report"] = json.loads(render(image.report, "json")) if image.report is not None else None
        if image.error:
            entry["error"] = image.error
        images.append(entry)
    doc = {
        "schema": SCHEMA,
        "verdict": fleet_verdict(result),
        "images": images,
        "layers": {
            "total": result.total_layers,
            "unique": result.unique_layers,
            "scanned": result.scanned,
            "from_store": result.from_store,
            "unreadable": result.unreadable,
        },
        "bytes_scanned": result.bytes_scanned,
        "shared_layers": [
            {"diff_id": s.diff_id, "created_by": s.created_by, "images": list(s.images),
             "findings": [{"rule": r, "severity": sev} for r, sev in s.findings]}
            for s in shared_layers(result)
        ],
        "duration_s": result.duration_s,
    }  # fmt: skip
    return json.dumps(doc, indent=2) + "\n"


def render_text(result: FleetResult) -> str:
    out = [f"imgscan fleet — {len(result.images)} images"]
    width = max((len(i.reference) for i in result.images), default=10)
    for image in result.images:
        verdict = image_verdict(image).upper()
        detail = image.error or _counts(image)
        out.append(f"  {image.reference:<{width}}  {verdict:<12}  {detail}")
    out.append(
        f"layers: {result.total_layers} in all, {result.unique_layers} unique, {result.scanned} scanned, "
        f"{result.from_store} from the store, {result.unreadable} unreadable; "
        f"{result.bytes_scanned / 1e6:,.1f} MB scanned in {result.duration_s:.1f} s"
    )
    for shared in shared_layers(result):
        if shared.findings:
            rules = ", ".join(sorted({r for r, _ in shared.findings}))
            out.append(
                f"  layer {shared.diff_id[:19]} ({_clip(shared.created_by)}) leaks {rules} "
                f"into {len(shared.images)} images"
            )
    verdict = fleet_verdict(result)
    worst = [i.reference for i in result.images if image_verdict(i) == verdict and verdict != VERDICT_CLEAN]
    tail = f": {', '.join(worst[:5])}{' ...' if len(worst) > 5 else ''}" if worst else ""
    out.append(f"FLEET VERDICT: {verdict.upper()}{tail}")
    return "\n".join(out) + "\n"


def render_html(result: FleetResult) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("scanner.fleet", "templates"), autoescape=True, keep_trailing_newline=True
    )
    rows = [
        {"reference": i.reference, "verdict": image_verdict(i), "detail": i.error or _counts(i)}
        for i in result.images
    ]
    return env.get_template("fleet.html.j2").render(
        result=result, rows=rows, verdict=fleet_verdict(result), shared=shared_layers(result)
    )


def _counts(image: ImageOutcome) -> str:
    from scanner.report import common

    report = image.report
    if report is None:
        return ""
    gating = common.gating(report)
    layers = len(report.layers)
    return f"{len(gating)} failing of {len(report.findings)} findings; {layers} layers"


def _clip(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
