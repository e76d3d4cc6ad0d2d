"""Fix advice that names the finding's own variable, file and layer; code spans marked for rich formats."""

from __future__ import annotations

import re

from scanner.findings import Finding
from scanner.report import common
from scanner.result import ScanReport

_CODE_SPAN = re.compile(r"`([^`]+)`")
# Docker syntax that the rules' generic fix texts name without backticks.
_BARE_CODE = re.compile(r"(?:RUN )?--mount=type=secret(?:[\w,=./-]*\w)?|--secret id=[\w,=./-]*\w")
# A config or history key ends in the variable it names: `Env.API_TOKEN`, `Labels.token`, `build-arg:TOKEN`.
_NAMED_KEY = re.compile(r"(?:^|\.)(Env|Labels)\.(?P<name>.+)$|(?:^|\.)build-arg:(?P<arg>.+)$")
# Config fields set by one Dockerfile instruction each.
_CONFIG_FIELDS = {
    "Cmd": "CMD",
    "Entrypoint": "ENTRYPOINT",
    "Healthcheck": "HEALTHCHECK",
    "OnBuild": "ONBUILD",
    "User": "USER",
    "WorkingDir": "WORKDIR",
}


def code_segments(text: str) -> list[tuple[str, bool]]:
    """`text` as (part, is_code) pairs: `backticked` spans and bare Docker flags are code, the rest prose."""
    out: list[tuple[str, bool]] = []

    def prose(part: str) -> None:
        at = 0
        for m in _BARE_CODE.finditer(part):
            out.extend([(part[at : m.start()], False), (m.group(), True)])
            at = m.end()
        out.append((part[at:], False))

    at = 0
    for m in _CODE_SPAN.finditer(text):
        prose(text[at : m.start()])
        out.append((m.group(1), True))
        at = m.end()
    prose(text[at:])
    return [(part, is_code) for part, is_code in out if part]


def fix_advice(report: ScanReport, finding: Finding) -> str:
    """The rule's remediation, preceded by where to fix it: the instruction, variable or file, its layer."""
    where = _where_to_fix(report, finding)
    return f"{where}. {finding.remediation}" if where else finding.remediation


def _secret_id(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "_", name.lower()).strip("_") or "secret"


def _layer_quote(report: ScanReport, image_index: int, layer_index: int | None) -> str:
    layer = common.find_layer(report, image_index, layer_index)
    if layer is None or not layer.created_by:
        return f"layer {layer_index}"
    return f"layer {layer_index}: `{common.history_line(layer.created_by, 60)}`"


def _where_to_fix(report: ScanReport, finding: Finding) -> str:
    loc = finding.location
    if loc.kind == "layer" and loc.path is not None:
        return _file_advice(report, finding)
    m = _NAMED_KEY.search(loc.key or "")
    if m and m.group("arg"):
        arg = m.group("arg")
        recorded = (
            f" (history[{loc.history_index}] records its value)" if loc.history_index is not None else ""
        )
        return (
            f"Remove `ARG {arg}` from the Dockerfile{recorded}; pass the value with "
            f"`docker build --secret id={_secret_id(arg)},env={arg}` and read it in "
            f"`RUN --mount=type=secret,id={_secret_id(arg)}`"
        )
    if m:
        instruction = "ENV" if m.group(1) == "Env" else "LABEL"
        name = m.group("name")
        return (
            f"Remove `{instruction} {name}` from the Dockerfile; pass it at run time or with "
            f"`RUN --mount=type=secret,id={_secret_id(name)}`"
        )
    if loc.kind == "history" and loc.key == "created_by":
        layer = next(
            (
                x
                for x in report.layers
                if x.image_index == loc.image_index and x.history_index == loc.history_index
            ),
            None,
        )
        step = f" (`{common.history_line(layer.created_by, 60)}`)" if layer is not None else ""
        return f"Take the value out of the build step recorded in history[{loc.history_index}]{step}"
    field = (loc.key or "").split(".")[-1].split("[")[0]
    if loc.kind == "config" and field in _CONFIG_FIELDS:
        return f"Remove the value from the Dockerfile's `{_CONFIG_FIELDS[field]}` (config `{loc.key}`)"
    return ""


def _file_advice(report: ScanReport, finding: Finding) -> str:
    loc = finding.location
    path = f"/{loc.path}"
    if common.is_whiteout(report, finding):
        return (
            f"`{path}` was deleted in layer {loc.layer_index}, but its bytes stay in the layer that "
            "added it: remove it from that layer's instruction instead"
        )
    added = _layer_quote(report, loc.image_index, loc.layer_index)
    if loc.inner_path:
        text = f"Rebuild `{path}` without `{loc.inner_path}` (added in {added})"
    else:
        text = f"Remove `{path}` from the layer that adds it ({added})"
    if finding.status in ("deleted", "overwritten"):
        later = "deleting" if finding.status == "deleted" else "overwriting"
        text += f"; {later} it in a later layer leaves it in layer {loc.layer_index}'s tarball"
    return text
