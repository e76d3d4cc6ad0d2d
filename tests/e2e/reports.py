"""Questions the e2e tests ask of an imgscan JSON report (schema imgscan/report/v1)."""

from __future__ import annotations

from typing import Any

Report = dict[str, Any]
Finding = dict[str, Any]


def findings(report: Report, **where: object) -> list[Finding]:
    """Findings whose top-level fields or location fields equal every given value."""

    def matches(finding: Finding) -> bool:
        fields = {**finding, **finding["location"]}
        return all(fields.get(name) == value for name, value in where.items())

    return [finding for finding in report["findings"] if matches(finding)]


def describe(report: Report) -> str:
    """The findings in one line each, for assertion messages (excerpts are already redacted)."""
    lines = [
        f"{f['rule']} {f['category']} {f['status']} {f['location']} deleted_in={f.get('deleted_in_layer')}"
        for f in report["findings"]
    ]
    return "\n".join([f"verdict {report['verdict']}; {len(lines)} findings:", *lines])


def source_independent_findings(report: Report, *, with_keys: bool = True) -> set[tuple[object, ...]]:
    """Each finding as the same image yields it from any source: layers named by diff_id, not position.

    with_keys=False leaves out the metadata key: a `docker save` archive (and the daemon's stream) carries
    a second copy of the config in each legacy `<id>/json`, reported under its own key, which an OCI
    archive does not have.
    """
    diff_ids = {layer["index"]: layer["diff_id"] for layer in report["layers"]}
    return {
        (
            f["rule"],
            f["category"],
            f["location"]["kind"],
            diff_ids.get(f["location"]["layer_index"]),
            f["location"]["path"],
            f["location"]["key"] if with_keys else None,
            f["location"]["history_index"],
            f["status"],
            diff_ids.get(f.get("deleted_in_layer")),
        )
        for f in report["findings"]
    }
