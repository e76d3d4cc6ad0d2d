"""The scanner entry points the fuzz targets drive, imported in this one place (the layer API may move)."""

from __future__ import annotations

from scanner.detectors.credfiles import PARSERS, parse
from scanner.detectors.known_values import extract_values, load_known_secrets
from scanner.layer import Limits, Member, walk_layer
from scanner.sources import open_images

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
