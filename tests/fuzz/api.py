"""The scanner entry points the fuzz targets drive, imported in this one place (the layer API may move)."""

from __future__ import annotations

from scanner.detectors.credfiles import PARSERS, parse
from scanner.sources import open_images

try:  # the layer branch moves the walker to scanner.layer; drop the fallback once that lands on main
    from scanner.layer import Limits, Member, walk_layer
except ImportError:
    from scanner.walk import Limits, Member, walk_layer

try:  # the detectors branch moves these to known_values; drop the fallback once that lands on main
    from scanner.detectors.known_values import extract_values, load_known_secrets
except ImportError:
    from scanner.detectors.known import extract_values, load_known_secrets

__all__ = [
    "PARSERS",
    "Limits",
    "Member",
    "extract_values",
    "load_known_secrets",
    "open_images",
    "parse",
    "walk_layer",
]
