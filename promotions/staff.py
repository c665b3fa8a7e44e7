"""Staff's changes to promotions and their codes: each in one transaction, each written to the
promotion's history with who made it."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import Category, Product
from catalog.selectors import catalog_cache_clear
from promotions.models import CodeUse, DiscountCode, Promotion, PromotionEvent
from promotions.services import code_normalize, codes_create
from promotions.texts import CODE_TAKEN, limit_text, reward_text
from shop.money import format_money

logger = logging.getLogger(__name__)

CODE_USED = "Orders have used this code: pause its promotion instead."
KIND_FIXED = "A promotion stays a sale or a code promotion once saved: add a new one instead."
SALE_HAS_NO_CODES = "A sale needs no code: it lowers the prices of what it covers while it runs."


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
    state = {
        "name": f"“{promotion.name}”",
        "kind": "sale" if promotion.is_sale else "codes",
        "reward": reward_text(promotion),
        "products": _names(Product, product_ids, "title"),
        "categories": _names(Category, category_ids, "name"),
        "minimum spend": format_money(promotion.min_spend, promotion.currency)
        if promotion.min_spend
        else "none",
        "start": _moment(promotion.starts_at),
        "end": _moment(promotion.ends_at),
        "once per customer": "yes" if promotion.once_per_customer else "no",
        "combinable": "yes" if promotion.combinable else "no",
        "items on sale": "excluded" if promotion.exclude_sale_items else "included",
        "status": "active" if promotion.is_active else "paused",
        "note": f"“{promotion.note}”" if promotion.note else "none",
    }
    if promotion.is_sale:  # a code's conditions do not apply to a sale
        for label in ("minimum spend", "once per customer", "combinable", "items on sale"):
            del state[label]
    return state


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
            if stored.kind != promotion.kind:
                raise ValidationError({"kind": KIND_FIXED})
            before = _state(stored, product_ids=_ids(stored.products), category_ids=_ids(stored.categories))
        promotion.save()
        promotion.products.set(product_ids)
        promotion.categories.set(category_ids)
        after = _state(promotion, product_ids=product_ids, category_ids=category_ids)
        if before is None:
            message = "Created: " + "; ".join(f"{label} {text}" for label, text in after.items()) + "."
        else:
            changes = [
                f"{label} from {before.get(label, 'none')} to {text}"
                for label, text in after.items()
                if before.get(label) != text
            ]
            message = "Changed " + "; ".join(changes) + "." if changes else ""
        if message:
            _event(promotion_id=promotion.pk, actor=actor, message=message)
    if promotion.is_sale:
        catalog_cache_clear()  # the cards and product pages show sale prices
    logger.info("promotion saved", extra={"promotion": promotion.pk})
    return promotion


def _active_set(*, promotion_id: int, is_active: bool, actor, messages: dict[str, str]) -> Promotion:
    with transaction.atomic():
        promotion = Promotion.objects.select_for_update().get(pk=promotion_id)
        if promotion.is_active != is_active:
            promotion.is_active = is_active
            promotion.save(update_fields=["is_active", "updated_at"])
            _event(promotion_id=promotion.pk, actor=actor, message=messages[promotion.kind])
    if promotion.is_sale:
        catalog_cache_clear()
    logger.info("promotion switched", extra={"promotion": promotion_id, "is_active": is_active})
    return promotion


def promotion_pause(*, promotion_id: int, actor=None) -> Promotion:
    """Pause the promotion (its codes are refused until it is resumed) and return it; nothing is
    recorded when it was paused already. Raises Promotion.DoesNotExist."""
    messages = {
        Promotion.Kind.CODE: "Paused: its codes are refused until it is resumed.",
        Promotion.Kind.SALE: "Paused: its prices are back to normal until it is resumed.",
    }
    return _active_set(promotion_id=promotion_id, is_active=False, actor=actor, messages=messages)


def promotion_resume(*, promotion_id: int, actor=None) -> Promotion:
    """Resume a paused promotion and return it. Raises Promotion.DoesNotExist."""
    messages = {
        Promotion.Kind.CODE: "Resumed: its codes are accepted again.",
        Promotion.Kind.SALE: "Resumed: its sale prices are shown and charged again.",
    }
    return _active_set(promotion_id=promotion_id, is_active=True, actor=actor, messages=messages)


def code_add(*, promotion: Promotion, code: str, usage_limit: int | None, actor=None) -> DiscountCode:
    """Add a code to the promotion and return it; raise ValidationError, writing nothing, when
    another code is the same ignoring case."""
    text = code_normalize(code)
    if promotion.is_sale:
        raise ValidationError(SALE_HAS_NO_CODES)
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
    """Make `count` distinct single-use codes for the promotion, record it, and return them;
    raise ValidationError for a sale, which has no codes."""
    if promotion.is_sale:
        raise ValidationError(SALE_HAS_NO_CODES)
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
