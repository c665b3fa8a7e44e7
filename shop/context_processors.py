from django.conf import settings
from django.http import HttpRequest

MAX_QUERY_LENGTH = 100


def shop(request: HttpRequest) -> dict[str, object]:
    """Return what every page's layout needs. Never touches the database."""
    return {
        "shop_name": settings.SHOP_NAME,
        "shop_currency": settings.SHOP_CURRENCY,
        "header_search_query": request.GET.get("q", "")[:MAX_QUERY_LENGTH],
        "cart_count": _cart_count(request),
    }


def _cart_count(request: HttpRequest) -> int:
    """Return the item count the cart views left in a cookie (display only, never trusted)."""
    raw = request.COOKIES.get("cart_count", "")
    return min(int(raw), 999) if raw.isdigit() and len(raw) < 6 else 0
