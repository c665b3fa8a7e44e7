"""What a promotion takes off, in integer minor units: shared out over the lines it covers so that
each line's VAT is charged on what is paid for it, and never more than those lines cost."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from taxes.calc import round_half_up, shares


@dataclass(frozen=True)
class Eligible:
    """A goods line as a promotion sees it: its amount and whether the promotion covers it."""

    amount: int
    covered: bool


@dataclass(frozen=True)
class Reduction:
    lines: tuple[int, ...]  # off each line, in the order given
    delivery: int  # off delivery

    @property
    def total(self) -> int:
        return sum(self.lines) + self.delivery


def reduction(
    *, reward: str, percent: Fraction | None, amount: int | None, lines: Sequence[Eligible], delivery: int
) -> Reduction:
    """Return what a promotion of this reward takes off the lines (and delivery, for free delivery).

    A percentage is rounded half up once over the covered lines, then shared out by their
    amounts; a fixed amount is capped at the covered lines' total (an order never costs less
    than its delivery); free delivery takes the delivery price."""
    covered = [line.amount if line.covered else 0 for line in lines]
    base = sum(covered)
    if reward == "free_delivery":
        return Reduction(lines=tuple(0 for _ in lines), delivery=delivery)
    if reward == "percent":
        off = round_half_up(Fraction(base) * Fraction(percent) / 100)
    else:
        off = min(amount or 0, base)
    return Reduction(lines=tuple(shares(off, covered)) if base else tuple(0 for _ in lines), delivery=0)
