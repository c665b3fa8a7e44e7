from django import template
from django.http import QueryDict

from shop.money import Money, format_money

register = template.Library()


@register.filter
def money(value: int | Money | None, currency: str = "") -> str:
    """Return minor units (or a Money) formatted for display: {{ amount|money:currency }}."""
    if value is None or value == "":
        return ""
    if isinstance(value, Money):
        return str(value)
    return format_money(int(value), currency or "GBP")


@register.simple_tag(takes_context=True)
def query_with(context: template.Context, **changes: object) -> str:
    """Return the current query string with `changes` applied (None removes a key).

    Changing anything but the page resets pagination to the first page.
    """
    request = context["request"]
    query: QueryDict = request.GET.copy()
    if "page" not in changes:
        query.pop("page", None)
    for key, value in changes.items():
        if value is None or value == "":
            query.pop(key, None)
        else:
            query[key] = str(value)
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"
