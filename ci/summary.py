"""A CI job summary in Markdown from imgscan's JSON report: verdict, counts, findings at or above a severity.

Usage: python ci/summary.py REPORT.json [LOWEST_SEVERITY] [EXIT_CODE]. Excerpts in the report are already
redacted; this only lays them out.
"""

from __future__ import annotations

import json
import sys
from typing import Any

ORDER = ["critical", "high", "medium", "low", "info"]
ICONS = {"clean": "✅", "findings": "❌", "inconclusive": "⚠️"}


def cell(value: object) -> str:
    text = " ".join(str(value if value is not None else "").split())
    return text.replace("|", "\\|").replace("`", "'")[:200]


def summary(report: dict[str, Any], lowest: str, code: str) -> str:
    verdict = str(report.get("verdict", "inconclusive"))
    image = report.get("image") or {}
    findings = report.get("findings") or []
    keep = ORDER[: ORDER.index(lowest) + 1] if lowest in ORDER else ORDER
    counts = {s: sum(1 for f in findings if f.get("severity") == s) for s in ORDER}
    lines = [
        f"## imgscan {ICONS.get(verdict, '')} {verdict.upper()}",
        "",
        f"`{cell(image.get('reference'))}` ({cell(image.get('digest') or image.get('id'))}), exit {code}",
        "",
        cell(report.get("verdict_text", "")),
        "",
        "| " + " | ".join(ORDER) + " |",
        "|" + "---|" * len(ORDER),
        "| " + " | ".join(str(counts[s]) for s in ORDER) + " |",
        "",
    ]
    shown = [f for f in findings if f.get("severity") in keep]
    if shown:
        lines += ["| severity | rule | where | status | excerpt |", "|---|---|---|---|---|"]
        for f in shown:
            loc = f.get("location") or {}
            where = loc.get("path") or loc.get("key") or loc.get("kind")
            if loc.get("layer_index") is not None:
                where = f"layer {loc['layer_index']}: {where}"
            lines.append(
                f"| {cell(f.get('severity'))} | {cell(f.get('rule'))} | {cell(where)} | "
                f"{cell(f.get('status'))} | `{cell(f.get('excerpt'))}` |"
            )
    problems = report.get("problems") or []
    if problems:
        lines += ["", "**Not read in full:**", ""]
        lines += [f"- {cell(p.get('where'))}: {cell(p.get('what'))}" for p in problems]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        with open(argv[1], encoding="utf-8") as fh:
            report = json.load(fh)
    except (OSError, ValueError):
        print("## imgscan ⚠️ INCONCLUSIVE\n\nNo report was written (see the job log).")
        return 0
    print(summary(report, argv[2] if len(argv) > 2 else "low", argv[3] if len(argv) > 3 else "?"), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
