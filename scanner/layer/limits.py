"""Safety limits of a layer walk, the expansion budget of a nested archive, and the errors that carry them."""

from __future__ import annotations

from dataclasses import dataclass

from scanner.decompress import BombRule, Readable
from scanner.errors import LayerError, LimitError, UsageError

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
NESTED_BOMB_FLOOR = 64 * MIB  # a nested archive's expansion ratio only counts as a bomb past this output


@dataclass(frozen=True)
class Limits:
    """Safety limits of a layer walk; reaching one makes the layer's result inconclusive, never clean."""

    window: int = 8 * MIB  # content window handed to detectors
    overlap: int = 4096  # bytes shared by consecutive windows, so a secret across a boundary is seen whole
    max_depth: int = 4  # nested archive levels opened
    max_nested_bytes: int = 1 * GIB  # expanded bytes per top-level nested archive
    max_ratio: int = 100  # expansion ratio that, past 64 MiB of output, counts as a bomb
    layer_bomb_floor: int = 1 * GIB  # a compressed layer past this output, expanding max_ratio x, is a bomb
    max_header_bytes: int = 1 * MIB  # PAX / GNU long-name header data
    max_layer_bytes: int = 256 * GIB  # uncompressed tar bytes of one layer
    spool_dir: str | None = None  # the scan's temp dir: where a nested zip larger than `window` is spooled

    def __post_init__(self) -> None:
        if not 0 <= self.overlap < self.window:
            raise UsageError(f"limits: overlap ({self.overlap}) must be less than window ({self.window})")

    def layer_rule(self) -> BombRule:
        """The bomb rule of a layer's (or an outer archive's) decompressed stream."""
        return BombRule(self.max_layer_bytes, self.max_ratio, self.layer_bomb_floor)

    def nested_rule(self) -> BombRule:
        """The bomb rule of one top-level nested archive, all its levels together."""
        return BombRule(self.max_nested_bytes, self.max_ratio, NESTED_BOMB_FLOOR)


class Upstream(Exception):
    """A read failed in the stream that `owner` (an archive level, or the layer) is responsible for."""

    def __init__(self, owner: object, error: LayerError) -> None:
        super().__init__(str(error))
        self.owner = owner
        self.error = error


class BudgetExceeded(LimitError):
    """The expansion budget of one top-level nested archive is used up: stop that whole archive."""


class Budget:
    """Expanded bytes of one top-level nested archive, across all its levels; catches decompression bombs."""

    def __init__(self, limits: Limits, input_size: int, label: str) -> None:
        self._rule = limits.nested_rule()
        self._input = max(input_size, 1)
        self._what = f"nested archive {label}"
        self.out = 0

    def add(self, n: int) -> None:
        self.out += n
        try:
            self._rule.check(self.out, self._input, self._what)
        except LimitError as e:
            raise BudgetExceeded(str(e)) from None


class Counted:
    """Charges every byte read from a decompressor to the budget."""

    def __init__(self, inner: Readable, budget: Budget) -> None:
        self._inner = inner
        self._budget = budget

    def read(self, size: int = -1, /) -> bytes:
        data = self._inner.read(size)
        self._budget.add(len(data))
        return data
