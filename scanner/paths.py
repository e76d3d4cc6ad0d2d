"""The one path normaliser: a member name as the runtime unpacks it, no leading "/", never above root."""

from __future__ import annotations


def normalise_path(name: str) -> tuple[str, bool]:
    """Strip "./" and leading "/", collapse "//" and "."; keep ".." but say the name escapes the root."""
    if not name.isascii():
        name = _printable(name)
    if (
        not name.startswith(("./", "/", "."))
        and "//" not in name
        and "/." not in name
        and not name.endswith("/")
    ):
        return name, False
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return "/".join(parts), name.startswith("/") or ".." in parts


def _printable(name: str) -> str:
    # Names are raw bytes decoded with surrogateescape; keep valid UTF-8, show the rest as \xNN.
    raw = name.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace")


def runtime_path(name: str) -> str:
    """The path a runtime unpacks `name` to: normalised, ".." resolved, clamped at the root (as Go's
    filepath.Join("/", name) cleans it), so `usr/share/doc/../../../root/x` is `root/x`."""
    name, escapes = normalise_path(name)
    if not escapes and ".." not in name.split("/"):
        return name
    parts: list[str] = []
    for part in name.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part:
            parts.append(part)
    return "/".join(parts)
