"""How promotions read to staff and shoppers: their reward, a code's usage limit."""

from decimal import Decimal

from promotions.models import Promotion
from shop.money import format_money

CODE_TAKEN = "That code is already in use."


def percent_text(percent: Decimal) -> str:
    """Return a percentage as staff type it: 10, 12.5 (never 1E+1)."""
    return format(percent.normalize(), "f")


def reward_text(promotion: Promotion) -> str:
    """Return what the promotion gives, e.g. "10 % off", "£5.00 off", "Free delivery"."""
    if promotion.reward == Promotion.Reward.PERCENT and promotion.percent is not None:
        return f"{percent_text(promotion.percent)} % off"
    if promotion.reward == Promotion.Reward.FIXED and promotion.amount is not None:
        return f"{format_money(promotion.amount, promotion.currency)} off"
    return promotion.get_reward_display()


def limit_text(usage_limit: int | None) -> str:
    """Return a code's usage limit as staff read it: "no limit", "once", "100 uses"."""
    if usage_limit is None:
        return "no limit"
    return "once" if usage_limit == 1 else f"{usage_limit:,} uses"
