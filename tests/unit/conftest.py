"""Fixtures shared by unit tests: a fixed fingerprint key and one detector set (both opt-in, by name)."""

from __future__ import annotations

import pytest

from scanner.detectors import DetectorConfig, DetectorSet
from scanner.findings import reset_fingerprint_key


@pytest.fixture
def fixed_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fingerprints under a known key; a module opts in with pytestmark = usefixtures("fixed_key")."""
    monkeypatch.setenv("IMGSCAN_FINGERPRINT_KEY", "test-key")
    reset_fingerprint_key()


@pytest.fixture(scope="module")
def detectors() -> DetectorSet:
    return DetectorSet(DetectorConfig())
