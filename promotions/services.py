"""Discount codes: checking one against a cart, and holding, consuming and giving back its uses.

Holding is one conditional UPDATE of the code's counter inside the transaction that writes
the order: however many shoppers place an order at the same moment, the database lets exactly
as many through as the limit has room for (its CHECK makes any other outcome an error), and an
order that is not written holds nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from asgiref.sync import sync_to_async
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from promotions.calc import Eligible, Reduction, reduction
from promotions.exceptions import CodeAlreadyUsed, CodeNotApplicable, CodeUsedUp
from promotions.models import CodeUse, DiscountCode, Promotion
from promotions.sales import with_descendants
from shop.money import format_money

logger = logging.getLogger(__name__)

LIVE = [CodeUse.Status.HELD, CodeUse.Status.CONSUMED]


def code_normalize(text: str) -> str:
    """Return a code as shoppers' input is matched: no surrounding spaces, upper case."""
    return (text or "").strip().upper()


@dataclass(frozen=True)
class CartItem:
    """A goods line as promotions see it: its amount at its sale price, if it is on sale."""

    amount: int
    product_id: int
    category_id: int
    on_sale: bool = False


@dataclass(frozen=True)
class Discount:
    """A code that applies to a cart, and what it takes off."""

    code_id: int
    code: str
    promotion_id: int
    name: str
    reward: str
    reduction: Reduction  # off the goods lines; free delivery is taken off by the pricing
    once_per_customer: bool
    combinable: bool = False


@dataclass(frozen=True)
class Refused:
    """A code in the cart that does not apply to it now, and why."""

    code: str
    message: str


@dataclass(frozen=True)
class Discounts:
    """The cart's codes that apply, in the order they were entered, and those that do not."""

    applied: tuple[Discount, ...] = ()
    refused: tuple[Refused, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.applied)

    def lines(self, count: int) -> tuple[int, ...]:
        """Return what the codes take off each of `count` goods lines, all codes together."""
        return tuple(sum(found.reduction.lines[i] for found in self.applied) for i in range(count))

    @property
    def free_delivery(self) -> Discount | None:
        """The first code that makes delivery free, if one does."""
        return next((found for found in self.applied if found.reward == "free_delivery"), None)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(found.code for found in self.applied)

    def problem(self, code: str) -> str:
        """Return why `code` does not apply ("" when it does)."""
        return next((refused.message for refused in self.refused if refused.code == code), "")


NO_DISCOUNTS = Discounts()


@dataclass(frozen=True)
class Customer:
    """Who a once-per-customer promotion counts: the e-mail the order is placed with, and the
    account, if any (a use by either is a use by the customer)."""

    email: str
    user_id: int | None = None

    @property
    def key(self) -> str:
        email = self.email.strip().lower()
        return f"email:{email}" if email else f"user:{self.user_id}"


def customer_key(*, user_id: int | None, email: str) -> Customer:
    """Return the customer a once-per-customer limit counts."""
    return Customer(email=email or "", user_id=user_id)


def _covered(items: Sequence[CartItem], promotion: Promotion) -> list[bool]:
    """Return which items the promotion covers (a category covers those below it)."""
    product_ids = set(promotion.products.values_list("id", flat=True))
    category_ids = with_descendants(promotion.categories.values_list("id", flat=True))
    whole = not category_ids and not product_ids
    return [
        (whole or item.product_id in product_ids or item.category_id in category_ids)
        and not (promotion.exclude_sale_items and item.on_sale)
        for item in items
    ]


def _refusal(promotion: Promotion, code: DiscountCode, *, goods: int, now) -> str | None:
    """Return why the code cannot be used now on goods worth `goods`, or None."""
    if not promotion.is_active:
        return "That code is not available at the moment."
    if promotion.starts_at and now < promotion.starts_at:
        return "That code cannot be used yet."
    if promotion.ends_at and now >= promotion.ends_at:
        return "That code has expired."
    if code.usage_limit is not None and code.uses >= code.usage_limit:
        return "That code has been used up."
    if promotion.min_spend and goods < promotion.min_spend:
        spend = format_money(promotion.min_spend, promotion.currency)
        return f"That code needs a minimum spend of {spend} (before delivery)."
    return None


def _not_covered(items: Sequence[CartItem], promotion: Promotion) -> str:
    if promotion.exclude_sale_items and any(item.on_sale for item in items):
        return "That code is not valid for items on sale or the other items in your cart."
    return "That code is not valid for the items in your cart."


def discount_for(
    *, code_text: str, items: Sequence[CartItem], customer: Customer | None, spend: int | None = None
) -> Discount:
    """Return what the code takes off these cart items; raise CodeNotApplicable saying why not.

    `spend` is what its minimum spend is checked against (the items' total when None). A few
    reads; holds nothing."""
    text = code_normalize(code_text)
    code = (
        DiscountCode.objects.select_related("promotion")
        .filter(code=text, promotion__kind=Promotion.Kind.CODE)
        .first()
        if text
        else None
    )
    if code is None:
        raise CodeNotApplicable("We do not know that code. Please check it and try again.")
    promotion = code.promotion
    if not items:
        raise CodeNotApplicable("Add something to your cart before using a code.")
    goods = sum(item.amount for item in items) if spend is None else spend
    why = _refusal(promotion, code, goods=goods, now=timezone.now())
    if why:
        raise CodeNotApplicable(why)
    if promotion.once_per_customer and customer and _used_by(promotion, customer):
        raise CodeAlreadyUsed()
    covered = _covered(items, promotion)
    if not any(covered):
        raise CodeNotApplicable(_not_covered(items, promotion))
    cut = reduction(
        reward=promotion.reward,
        percent=Fraction(promotion.percent) if promotion.percent is not None else None,
        amount=promotion.amount,
        lines=[
            Eligible(amount=item.amount, covered=is_covered)
            for item, is_covered in zip(items, covered, strict=True)
        ],
        delivery=0,
    )
    return Discount(
        code_id=code.pk,
        code=code.code,
        promotion_id=promotion.pk,
        name=promotion.name,
        reward=promotion.reward,
        reduction=cut,
        once_per_customer=promotion.once_per_customer,
        combinable=promotion.combinable,
    )


SAME_PROMOTION, DELIVERY_TWICE, NOT_COMBINABLE = "same promotion", "delivery twice", "not combinable"
# What the cart says when a code is refused for each clash, most telling first.
_CLASH_REFUSALS = {
    SAME_PROMOTION: "You already have a code from the same promotion: one is enough.",
    DELIVERY_TWICE: "Delivery is free already with another code.",
    NOT_COMBINABLE: "That code cannot be used together with {code}.",
}


def clash(found: Discount, other: Discount) -> str:
    """Return why two codes cannot both apply to one order (one of the clashes above), or ""."""
    if other.promotion_id == found.promotion_id:
        return SAME_PROMOTION
    if found.reward == other.reward == "free_delivery":
        return DELIVERY_TWICE
    if not (found.combinable and other.combinable):
        return NOT_COMBINABLE
    return ""


def _clash(found: Discount, applied: Sequence[Discount]) -> str:
    """Return why `found` cannot join the codes `applied` before it ("" when it can)."""
    clashes = {reason: other for other in reversed(applied) if (reason := clash(found, other))}
    for reason, message in _CLASH_REFUSALS.items():
        if reason in clashes:
            return message.format(code=clashes[reason].code)
    return ""


def discounts_for(*, codes: Sequence[str], items: Sequence[CartItem], customer: Customer | None) -> Discounts:
    """Return what the cart's codes take off these items, one after another in the order given
    (each on what the ones before left; each minimum spend on the goods before any code), and
    why each of the others does not apply. A few reads a code; holds nothing."""
    applied: list[Discount] = []
    refused: list[Refused] = []
    spend = sum(item.amount for item in items)
    left = list(items)
    for text in codes:
        try:
            found = discount_for(code_text=text, items=left, customer=customer, spend=spend)
        except CodeNotApplicable as error:
            refused.append(Refused(code=text, message=error.user_message))
            continue
        clash = _clash(found, applied)
        if clash:
            refused.append(Refused(code=text, message=clash))
            continue
        applied.append(found)
        left = [
            CartItem(
                amount=item.amount - off,
                product_id=item.product_id,
                category_id=item.category_id,
                on_sale=item.on_sale,
            )
            for item, off in zip(left, found.reduction.lines, strict=True)
        ]
    return Discounts(applied=tuple(applied), refused=tuple(refused))


def _used_by(promotion: Promotion, customer: Customer) -> bool:
    """Return whether the customer (by e-mail or by account) holds or used the promotion already."""
    used = Q(customer_key=customer.key)
    if customer.user_id:
        used |= Q(order__user_id=customer.user_id)
    return CodeUse.objects.filter(used, promotion=promotion, status__in=LIVE).exists()


def code_use_hold(*, discount: Discount, order_id: int, customer: Customer) -> CodeUse:
    """Hold one use of the code for the order, inside the caller's transaction (the order's).

    Raise CodeUsedUp when its limit has no room left, CodeAlreadyUsed when a once-per-customer
    promotion was already used by this customer: the caller's transaction then writes nothing."""
    room = Q(usage_limit__isnull=True) | Q(uses__lt=F("usage_limit"))
    if not DiscountCode.objects.filter(room, pk=discount.code_id).update(uses=F("uses") + 1):
        raise CodeUsedUp()
    # The UPDATE locked the code's row until this order commits: two orders of one customer
    # holding it queue here, and the second sees the first's use (by e-mail or by account).
    if discount.once_per_customer and _used_by(Promotion(pk=discount.promotion_id), customer):
        raise CodeAlreadyUsed()
    try:
        with transaction.atomic():
            return CodeUse.objects.create(
                code_id=discount.code_id,
                promotion_id=discount.promotion_id,
                order_id=order_id,
                customer_key=customer.key if discount.once_per_customer else None,
            )
    except IntegrityError as error:
        if discount.once_per_customer and _used_by(Promotion(pk=discount.promotion_id), customer):
            raise CodeAlreadyUsed() from error
        raise


def code_use_consume(*, order_id: int) -> None:
    """Mark the order's held code uses consumed (it was paid). Nothing to do without one."""
    CodeUse.objects.filter(order_id=order_id, status=CodeUse.Status.HELD).update(
        status=CodeUse.Status.CONSUMED, updated_at=timezone.now()
    )


def code_use_release(*, order_id: int) -> None:
    """Give the order's code uses back (the order was canceled, refused or never paid), once."""
    uses = CodeUse.objects.select_for_update().filter(order_id=order_id, status__in=LIVE).order_by("code_id")
    for use in uses:
        use.status = CodeUse.Status.RELEASED
        use.save(update_fields=["status", "updated_at"])
        DiscountCode.objects.filter(pk=use.code_id).update(uses=F("uses") - 1)
        logger.info("code use given back", extra={"order": order_id, "code": use.code_id})


def codes_create(*, promotion: Promotion, prefix: str, count: int) -> list[DiscountCode]:
    """Create `count` single-use codes for the promotion, each `prefix` and 8 random characters."""
    import secrets

    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
    made: list[DiscountCode] = []
    with transaction.atomic():
        while len(made) < count:
            batch = [
                DiscountCode(
                    promotion=promotion,
                    code=code_normalize(prefix) + "".join(secrets.choice(alphabet) for _ in range(8)),
                    usage_limit=1,
                )
                for _ in range(count - len(made))
            ]
            made += DiscountCode.objects.bulk_create(batch, ignore_conflicts=True)
            made = list(
                DiscountCode.objects.filter(promotion=promotion, code__in=[code.code for code in made])
            )
    return made


def uses_by_code(codes: Iterable[DiscountCode]) -> dict[int, int]:
    """Return each code's consumed uses (paid orders)."""
    rows = CodeUse.objects.filter(code__in=list(codes), status=CodeUse.Status.CONSUMED).values_list("code_id")
    counts: dict[int, int] = {}
    for (code_id,) in rows:
        counts[code_id] = counts.get(code_id, 0) + 1
    return counts


adiscount_for = sync_to_async(discount_for)
adiscounts_for = sync_to_async(discounts_for)


async def acodes_accepted() -> bool:
    """Return whether any code promotion is on: the cart and checkout offer a code field only then."""
    return await Promotion.objects.filter(is_active=True, kind=Promotion.Kind.CODE).aexists()
