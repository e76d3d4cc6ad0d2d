"""Every relative link in README.md and docs/*.md names a file that is in the repository."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])

_INLINE = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
_HTML = re.compile(r"""\b(?:href|src)\s*=\s*["']([^"']+)["']""")
# A path into the repository written as inline code is a promise to the reader too.
_CODE_PATH = re.compile(r"`((?:docs|scripts|tests|scanner|fixtures|\.ci)/[^`\s]*)`")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)


def links(text: str) -> list[str]:
    """Relative link targets (no scheme, no pure #anchor), without their #fragment; fenced code skipped."""
    prose = _FENCE.sub("", text)
    found = [m.group(1) for pattern in (_INLINE, _REFERENCE, _HTML) for m in pattern.finditer(prose)]
    out = []
    for target in found:
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or not parts.path:
            continue
        out.append(unquote(parts.path))
    return out


def code_paths(text: str) -> list[str]:
    """Repository paths written as inline code outside fenced blocks (relative to the repository root)."""
    return [m.group(1) for m in _CODE_PATH.finditer(_FENCE.sub("", text))]


def test_the_link_finders_see_every_kind_of_link() -> None:
    text = (
        'See [a](docs/a.md#x), ![b](img/b.png "t"), <a href="c.html">c</a>, `scripts/bench`,\n'
        "[web](https://example.com) and [here](#top).\n\n[ref]: docs/ref.md\n```sh\n[no](fenced.md)\n```\n"
    )
    assert sorted(links(text)) == ["c.html", "docs/a.md", "docs/ref.md", "img/b.png"]
    assert code_paths(text) == ["scripts/bench"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    targets = [(doc.parent, t) for t in links(text)] + [(ROOT, t) for t in code_paths(text)]
    missing = [
        target
        for base, target in targets
        if not (base / target).resolve().is_relative_to(ROOT) or not (base / target).exists()
    ]
    assert not missing, f"{doc.relative_to(ROOT)} links to files not in the repo: {missing}"
