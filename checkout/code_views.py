"""The cart's discount code: applied or removed from the cart or checkout page."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from checkout import selectors
from checkout.exceptions import CartEmpty
from checkout.services.carts import acart_code_set, acart_for_request
from promotions.services import Customer, adiscount_for, code_normalize, customer_key
from shop import ratelimit
from shop.errors import shop_errors
from shop.exceptions import InvalidInput
from shop.http import safe_next_url
from shop.money import format_money


def customer_of(request: HttpRequest, *, email: str = "") -> Customer | None:
    """Return who a once-per-customer code counts: the e-mail typed at checkout, else the
    account's; the account too when signed in; None for a guest who has typed none yet."""
    user_id = request.user.pk if request.user.is_authenticated else None
    email = (email or "").strip() or (request.user.email if user_id else "")
    return customer_key(user_id=user_id, email=email) if email or user_id else None


@require_POST
@shop_errors(redirect_to="checkout:cart")
async def cart_code(request: HttpRequest) -> HttpResponse:
    """Apply the discount code typed (or remove it), saying at once what it takes off or why not."""
    back = safe_next_url(request, reverse("checkout:cart"))
    cart = await acart_for_request(request, create=False)
    if cart is None:
        raise CartEmpty()
    if "remove" in request.POST:
        await acart_code_set(cart_id=cart.pk, code="")
        messages.success(request, "Discount code removed.")
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
    summary = await selectors.cart_summary(cart=cart)
    discount = await adiscount_for(
        code_text=code, items=summary.promotion_items, customer=customer_of(request)
    )
    await acart_code_set(cart_id=cart.pk, code=code)
    off = format_money(discount.reduction.total, summary.currency)
    taken = "free delivery" if discount.reward == "free_delivery" else f"{off} off"
    messages.success(request, f"{discount.name}: {taken}.")
    return HttpResponseRedirect(back)
