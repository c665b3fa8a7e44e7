"""The cart's discount codes: applied or removed from the cart or checkout page."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from checkout import selectors
from checkout.exceptions import CartEmpty
from checkout.services.carts import acart_code_remove, acart_codes_set, acart_for_request
from promotions.services import (
    DELIVERY_TWICE,
    NOT_COMBINABLE,
    SAME_PROMOTION,
    Customer,
    Discount,
    Discounts,
    adiscount_for,
    adiscounts_for,
    clash,
    code_normalize,
    customer_key,
)
from shop import ratelimit
from shop.errors import shop_errors
from shop.exceptions import Conflict, InvalidInput
from shop.http import safe_next_url
from shop.money import format_money


def customer_of(request: HttpRequest, *, email: str = "") -> Customer | None:
    """Return who a once-per-customer code counts: the e-mail typed at checkout, else the
    account's; the account too when signed in; None for a guest who has typed none yet."""
    user_id = request.user.pk if request.user.is_authenticated else None
    email = (email or "").strip() or (request.user.email if user_id else "")
    return customer_key(user_id=user_id, email=email) if email or user_id else None


MAX_CODES = 5  # codes one order may carry at once


# How the cart words each clash when a new code takes another's place.
_REPLACED_BECAUSE = {
    SAME_PROMOTION: "from the same promotion",
    DELIVERY_TWICE: "both make delivery free",
    NOT_COMBINABLE: "they cannot be used together",
}


def _codes_with(found: Discount, held: list[str], together: Discounts) -> tuple[list[str], dict[str, str]]:
    """Return the cart's codes once `found` is added (those it cannot be used with taken out), and
    each code taken out with the reason; `together` is what the held codes and it come to."""
    if found.code in together.codes:
        return [*held, found.code], {}
    applying = {other.code: other for other in together.applied}
    replaced = {}
    for other in held:  # a code that does not apply now stands in nobody's way
        reason = _REPLACED_BECAUSE.get(clash(found, applying[other]), "") if other in applying else ""
        if reason:
            replaced[other] = reason
    return [other for other in held if other not in replaced] + [found.code], replaced


def _apply_message(discounts: Discounts, code: str, replaced: dict[str, str], currency: str) -> str:
    found = next(item for item in discounts.applied if item.code == code)
    off = format_money(found.reduction.total, currency)
    taken = "free delivery" if found.reward == "free_delivery" else f"{off} off"
    message = f"{found.name}: {taken}."
    for reason in dict.fromkeys(replaced.values()):
        codes = ", ".join(other for other, why in replaced.items() if why == reason)
        message += f" It replaces {codes}: {reason}."
    return message


@require_POST
@shop_errors(redirect_to="checkout:cart")
async def cart_code(request: HttpRequest) -> HttpResponse:
    """Apply the discount code typed (or remove one, or all), saying at once what it takes off or
    why not. A code that cannot be used with some of those applied already replaces them, saying so."""
    back = safe_next_url(request, reverse("checkout:cart"))
    cart = await acart_for_request(request, create=False)
    if cart is None:
        raise CartEmpty()
    if "remove" in request.POST:
        chosen = code_normalize(request.POST.get("remove", ""))
        removing = chosen if chosen in cart.discount_codes else None
        await acart_code_remove(cart_id=cart.pk, code=removing)
        if removing:
            said = f"Discount code {removing} removed."
        else:
            said = "Discount codes removed." if len(cart.discount_codes) > 1 else "Discount code removed."
        messages.success(request, said)
        return HttpResponseRedirect(back)
    await ratelimit.arate_limit_hit(
        action="discount-code",
        clients=[ratelimit.client_ip(request), f"cart:{cart.pk}"],
        rate=settings.RATE_LIMIT_DISCOUNT_CODE,
        attempts="discount codes tried",
    )
    code = code_normalize(request.POST.get("code", ""))[:41]
    if not code or len(code) > 40:
        raise InvalidInput("Enter a discount code of up to 40 characters.")
    held = list(cart.discount_codes)
    if code in held:
        raise InvalidInput(f"{code} is applied already.")
    summary = await selectors.cart_summary(cart=cart)
    customer = customer_of(request)
    # Alone first: a code that does not apply at all is refused, saying why, and changes nothing.
    found = await adiscount_for(code_text=code, items=summary.promotion_items, customer=customer)
    together = await adiscounts_for(codes=[*held, code], items=summary.promotion_items, customer=customer)
    codes, replaced = _codes_with(found, held, together)
    if replaced:
        together = await adiscounts_for(codes=codes, items=summary.promotion_items, customer=customer)
    if len(codes) > MAX_CODES:
        raise InvalidInput(f"An order can carry at most {MAX_CODES} codes: remove one first.")
    if not await acart_codes_set(cart_id=cart.pk, codes=codes, expected=held):
        raise Conflict("Your cart changed in another window meanwhile: please enter the code again.")
    messages.success(request, _apply_message(together, code, replaced, summary.currency))
    return HttpResponseRedirect(back)
