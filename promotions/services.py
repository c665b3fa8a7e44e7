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
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from catalog.models import Category, Product
from promotions.calc import Eligible, Reduction, reduction
from promotions.exceptions import CodeAlreadyUsed, CodeNotApplicable, CodeUsedUp
from promotions.models import CodeUse, DiscountCode, Promotion, PromotionEvent
from promotions.texts import CODE_TAKEN, limit_text, reward_text
from shop.money import format_money

logger = logging.getLogger(__name__)

LIVE = [CodeUse.Status.HELD, CodeUse.Status.CONSUMED]


def code_normalize(text: str) -> str:
    """Return a code as shoppers' input is matched: no surrounding spaces, upper case."""
    return (text or "").strip().upper()


@dataclass(frozen=True)
class CartItem:
    """A goods line as promotions see it."""

    amount: int
    product_id: int
    category_id: int


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


def _covered(items: Sequence[CartItem], category_ids: set[int], product_ids: set[int]) -> list[bool]:
    if not category_ids and not product_ids:
        return [True] * len(items)
    return [item.product_id in product_ids or item.category_id in category_ids for item in items]


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


def _with_descendants(category_ids: set[int]) -> set[int]:
    """Return the categories and every one below them (a promotion on a category covers its
    subcategories): a read a level, the tree being shallow."""
    found, frontier = set(category_ids), set(category_ids)
    while frontier:
        frontier = set(Category.objects.filter(parent_id__in=frontier).values_list("id", flat=True)) - found
        found |= frontier
    return found


def discount_for(*, code_text: str, items: Sequence[CartItem], customer: Customer | None) -> Discount:
    """Return what the code takes off these cart items; raise CodeNotApplicable saying why not.
    A few reads; holds nothing."""
    text = code_normalize(code_text)
    code = DiscountCode.objects.select_related("promotion").filter(code=text).first() if text else None
    if code is None:
        raise CodeNotApplicable("We do not know that code. Please check it and try again.")
    promotion = code.promotion
    goods = sum(item.amount for item in items)
    if not items:
        raise CodeNotApplicable("Add something to your cart before using a code.")
    why = _refusal(promotion, code, goods=goods, now=timezone.now())
    if why:
        raise CodeNotApplicable(why)
    if promotion.once_per_customer and customer and _used_by(promotion, customer):
        raise CodeAlreadyUsed()
    product_ids = set(promotion.products.values_list("id", flat=True))
    category_ids = _with_descendants(set(promotion.categories.values_list("id", flat=True)))
    covered = _covered(items, category_ids, product_ids)
    if not any(covered):
        raise CodeNotApplicable("That code is not valid for the items in your cart.")
    percent = Fraction(promotion.percent) if promotion.percent is not None else None
    cut = reduction(
        reward=promotion.reward,
        percent=percent,
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
    )


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
    """Mark the order's held code use consumed (it was paid). Nothing to do without one."""
    CodeUse.objects.filter(order_id=order_id, status=CodeUse.Status.HELD).update(
        status=CodeUse.Status.CONSUMED, updated_at=timezone.now()
    )


def code_use_release(*, order_id: int) -> None:
    """Give the order's code use back (the order was canceled, refused or never paid), once."""
    use = CodeUse.objects.select_for_update().filter(order_id=order_id, status__in=LIVE).first()
    if use is None:
        return
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


async def acodes_accepted() -> bool:
    """Return whether any promotion is on: the cart and checkout offer a code field only then."""
    return await Promotion.objects.filter(is_active=True).aexists()


# Staff's changes: each in one transaction, each written to the promotion's history. -------------

CODE_USED = "Orders have used this code: pause its promotion instead."


def _event(*, promotion_id: int, actor, message: str) -> PromotionEvent:
    actor_id = getattr(actor, "pk", None)
    return PromotionEvent.objects.create(promotion_id=promotion_id, actor_id=actor_id, message=message)


def _moment(value) -> str:
    return timezone.localtime(value).strftime("%d %b %Y %H:%M") if value else "none"


def _names(model, ids: Iterable[int], field: str) -> str:
    names = sorted(model.objects.filter(pk__in=list(ids)).values_list(field, flat=True))
    return ", ".join(names) or "none"


def _state(promotion: Promotion, *, product_ids: set[int], category_ids: set[int]) -> dict[str, str]:
    """Return the promotion's settings as the history words them, label by label."""
    return {
        "name": f"“{promotion.name}”",
        "reward": reward_text(promotion),
        "products": _names(Product, product_ids, "title"),
        "categories": _names(Category, category_ids, "name"),
        "minimum spend": format_money(promotion.min_spend, promotion.currency)
        if promotion.min_spend
        else "none",
        "start": _moment(promotion.starts_at),
        "end": _moment(promotion.ends_at),
        "once per customer": "yes" if promotion.once_per_customer else "no",
        "status": "active" if promotion.is_active else "paused",
        "note": f"“{promotion.note}”" if promotion.note else "none",
    }


def _ids(related) -> set[int]:
    return set(related.values_list("pk", flat=True))


def promotion_save(
    *,
    promotion: Promotion,
    products: Iterable[Product] = (),
    categories: Iterable[Category] = (),
    actor=None,
) -> Promotion:
    """Save a new or changed promotion covering exactly these products and categories (none: the
    whole order) and record what changed. Raise ValidationError, writing nothing, for settings
    that do not hold together (the forms refuse them first)."""
    product_ids, category_ids = {item.pk for item in products}, {item.pk for item in categories}
    promotion.full_clean(exclude=["products", "categories"], validate_unique=False)
    with transaction.atomic():
        before = None
        if promotion.pk is not None:
            stored = Promotion.objects.select_for_update().get(pk=promotion.pk)
            before = _state(stored, product_ids=_ids(stored.products), category_ids=_ids(stored.categories))
        promotion.save()
        promotion.products.set(product_ids)
        promotion.categories.set(category_ids)
        after = _state(promotion, product_ids=product_ids, category_ids=category_ids)
        if before is None:
            message = "Created: " + "; ".join(f"{label} {text}" for label, text in after.items()) + "."
        else:
            changes = [
                f"{label} from {before[label]} to {text}"
                for label, text in after.items()
                if before[label] != text
            ]
            message = "Changed " + "; ".join(changes) + "." if changes else ""
        if message:
            _event(promotion_id=promotion.pk, actor=actor, message=message)
    logger.info("promotion saved", extra={"promotion": promotion.pk})
    return promotion


def _active_set(*, promotion_id: int, is_active: bool, actor, message: str) -> Promotion:
    with transaction.atomic():
        promotion = Promotion.objects.select_for_update().get(pk=promotion_id)
        if promotion.is_active != is_active:
            promotion.is_active = is_active
            promotion.save(update_fields=["is_active", "updated_at"])
            _event(promotion_id=promotion.pk, actor=actor, message=message)
    logger.info("promotion switched", extra={"promotion": promotion_id, "is_active": is_active})
    return promotion


def promotion_pause(*, promotion_id: int, actor=None) -> Promotion:
    """Pause the promotion (its codes are refused until it is resumed) and return it; nothing is
    recorded when it was paused already. Raises Promotion.DoesNotExist."""
    message = "Paused: its codes are refused until it is resumed."
    return _active_set(promotion_id=promotion_id, is_active=False, actor=actor, message=message)


def promotion_resume(*, promotion_id: int, actor=None) -> Promotion:
    """Resume a paused promotion and return it. Raises Promotion.DoesNotExist."""
    message = "Resumed: its codes are accepted again."
    return _active_set(promotion_id=promotion_id, is_active=True, actor=actor, message=message)


def code_add(*, promotion: Promotion, code: str, usage_limit: int | None, actor=None) -> DiscountCode:
    """Add a code to the promotion and return it; raise ValidationError, writing nothing, when
    another code is the same ignoring case."""
    text = code_normalize(code)
    try:
        with transaction.atomic():
            if DiscountCode.objects.filter(code__iexact=text).exists():
                raise ValidationError({"code": CODE_TAKEN})
            added = DiscountCode.objects.create(promotion=promotion, code=text, usage_limit=usage_limit)
            _event(
                promotion_id=promotion.pk,
                actor=actor,
                message=f"Added code {text} ({limit_text(usage_limit)}).",
            )
    except IntegrityError as error:  # added by someone else since the check
        raise ValidationError({"code": CODE_TAKEN}) from error
    return added


def codes_generate(*, promotion: Promotion, prefix: str, count: int, actor=None) -> list[DiscountCode]:
    """Make `count` distinct single-use codes for the promotion, record it, and return them."""
    with transaction.atomic():
        made = codes_create(promotion=promotion, prefix=prefix, count=count)
        starting = f" starting {code_normalize(prefix)}" if prefix else ""
        message = f"Generated {len(made):,} single-use codes{starting}."
        _event(promotion_id=promotion.pk, actor=actor, message=message)
    logger.info("codes generated", extra={"promotion": promotion.pk, "count": len(made)})
    return made


def code_delete(*, code_id: int, actor=None) -> DiscountCode:
    """Delete a code no order has used and return it as it was; raise ValidationError when an
    order used it (its promotion is paused instead). Raises DiscountCode.DoesNotExist."""
    with transaction.atomic():
        code = DiscountCode.objects.select_for_update().get(pk=code_id)
        if CodeUse.objects.filter(code_id=code_id).exists():
            raise ValidationError(CODE_USED)
        DiscountCode.objects.filter(pk=code_id).delete()
        _event(promotion_id=code.promotion_id, actor=actor, message=f"Deleted code {code.code}.")
    return code


apromotion_save = sync_to_async(promotion_save)
apromotion_pause = sync_to_async(promotion_pause)
apromotion_resume = sync_to_async(promotion_resume)
acode_add = sync_to_async(code_add)
acodes_generate = sync_to_async(codes_generate)
acode_delete = sync_to_async(code_delete)
