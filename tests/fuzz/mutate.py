"""Hypothesis as a bounded mutation fuzzer: committed seeds, byte-level mutations, a budget from the env."""

from __future__ import annotations

import os
from collections.abc import Sequence

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Examples per target; CI runs the default, a longer local run sets e.g. IMGSCAN_FUZZ_EXAMPLES=5000.
EXAMPLES = int(os.environ.get("IMGSCAN_FUZZ_EXAMPLES", "150"))

fuzz_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


@st.composite
def mutated(draw: st.DrawFn, seeds: Sequence[bytes], max_mutations: int = 4) -> bytes:
    """One seed, changed by a few flips, overwrites, cuts, duplications and insertions."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, max_mutations))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "duplicate", "insert", "delete"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and at < len(data):
            data[at] = draw(st.sampled_from([0, 0x20, 0x30, 0x37, 0x38, 0x80, 0xFF, ord("/"), ord("\n")]))
        elif op == "truncate":
            del data[at:]
        elif op == "duplicate":
            span = draw(st.integers(1, 1024))
            data[at:at] = data[at : at + span]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 600))]
    return bytes(data)
