from django.conf import settings
from django.http import HttpRequest

MAX_QUERY_LENGTH = 100


def shop(request: HttpRequest) -> dict[str, object]:
    """Return what every page's layout needs. Never touches the database."""
    return {
        "shop_name": settings.SHOP_NAME,
        "shop_currency": settings.SHOP_CURRENCY,
        "header_search_query": request.GET.get("q", "")[:MAX_QUERY_LENGTH],
    }
