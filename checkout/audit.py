"""The shop's invariants, read from the database: what must hold for orders, payments,
refunds and stock whatever happened in between (outages, retries, races, staff actions).

`audit_run()` returns one result per check with the problems it found. Each check
is a few set-based queries, so the audit stays cheap on a large shop; it changes
nothing. The rules follow the services: held reservations' units are in
`Stock.allocated`; committing takes them out of `on_hand` and `allocated`; an
order is paid by one succeeded payment of its total; refunds never exceed what
was paid; a canceled order keeps neither money nor stock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from checkout.audit_money import (
    check_money_kept_matches_status,
    check_order_totals,
    check_refunds_within_payments,
)
from checkout.audit_promotions import check_code_uses, check_order_discounts, check_sale_prices
from checkout.audit_rules import PROBLEMS_SHOWN
from checkout.audit_stock import (
    check_canceled_orders_hold_nothing,
    check_committed_stock_belongs_to_paid_orders,
    check_paid_orders_have_their_payment,
    check_paid_orders_have_their_stock,
    check_reservations_match_orders,
    check_stock_allocated_equals_holds,
    check_stock_bounds,
    check_unpaid_orders_charge_nothing,
)


@dataclass(frozen=True)
class CheckResult:
    name: str
    rule: str
    problems: list[str]
    has_more: bool = False

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class AuditReport:
    results: list[CheckResult]

    @property
    def failed(self) -> list[CheckResult]:
        return [result for result in self.results if not result.passed]

    @property
    def passed(self) -> bool:
        return not self.failed

    def text(self) -> str:
        """Return the report as plain text: each failed check with its problems, then a summary."""
        if self.passed:
            return f"All {len(self.results)} checks passed."
        lines = []
        for result in self.failed:
            lines.append(f"FAILED {result.name}: {result.rule}")
            lines.extend(f"  - {problem}" for problem in result.problems)
            if result.has_more:
                lines.append(f"  - … and more (only the first {len(result.problems)} are listed)")
        passed = len(self.results) - len(self.failed)
        lines.append(f"{len(self.failed)} of {len(self.results)} checks failed ({passed} passed).")
        return "\n".join(lines)


def audit_run() -> AuditReport:
    """Run every check and return the report."""
    results = []
    for name, rule, check in CHECKS:
        problems = list(check())
        results.append(
            CheckResult(
                name=name,
                rule=rule,
                problems=problems[:PROBLEMS_SHOWN],
                has_more=len(problems) > PROBLEMS_SHOWN,
            )
        )
    return AuditReport(results=results)


CHECKS: list[tuple[str, str, Callable[[], Iterable[str]]]] = [
    (
        "stock-within-bounds",
        "no stock count is negative and allocated never exceeds on hand",
        check_stock_bounds,
    ),
    (
        "stock-allocated-equals-holds",
        "each SKU's allocated units are exactly what its held reservations hold",
        check_stock_allocated_equals_holds,
    ),
    (
        "paid-orders-have-their-payment",
        "every paid order has a succeeded payment that asked for and received its total, in its "
        "currency, and a payment time",
        check_paid_orders_have_their_payment,
    ),
    (
        "paid-orders-have-their-stock",
        "every paid order's stock is committed, once, and an order that records it committed "
        "has its reservation committed (or returned)",
        check_paid_orders_have_their_stock,
    ),
    (
        "committed-stock-belongs-to-paid-orders",
        "stock is committed only for orders that were paid",
        check_committed_stock_belongs_to_paid_orders,
    ),
    (
        "reservations-match-orders",
        "an order's reservation exists and holds exactly the order's lines",
        check_reservations_match_orders,
    ),
    (
        "unpaid-orders-charge-nothing",
        "an order awaiting payment keeps no money (a payment that did not match it is refunded in full), "
        "and its stock is held, not taken",
        check_unpaid_orders_charge_nothing,
    ),
    (
        "canceled-orders-hold-nothing",
        "a canceled order holds no stock and has no payment that could still be confirmed",
        check_canceled_orders_hold_nothing,
    ),
    (
        "refunds-within-payments",
        "refunds are only made on succeeded payments, in their currency, and never exceed what Stripe "
        "received for them",
        check_refunds_within_payments,
    ),
    (
        "money-kept-matches-status",
        "money received minus refunded is the total for a paid order, part of it for a partly refunded one, "
        "and nothing for an unpaid, canceled or refunded one (no second charge is kept)",
        check_money_kept_matches_status,
    ),
    (
        "order-totals",
        "every order has lines; its net subtotal, tax and tax per rate add up from its lines and delivery",
        check_order_totals,
    ),
    (
        "code-uses",
        "a code's uses never pass its limit and are exactly the orders holding or using it; a use is held "
        "while its order awaits payment, consumed once paid, given back when it was canceled unpaid",
        check_code_uses,
    ),
    (
        "order-discounts",
        "each code's discount on an order comes from its own use of that code, within its promotion's "
        "dates; the codes add up to the order's discount, which is its lines' and delivery's",
        check_order_discounts,
    ),
    (
        "sale-prices",
        "every line sold below its list price was on a sale that ran when the order was placed, and each "
        "order's sale savings are its lines'",
        check_sale_prices,
    ),
]
