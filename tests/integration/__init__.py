"""Integration tests: the whole scan on fixture images (no daemon)."""
