"""Path converters with the real format of each identifier, so a malformed one is a 404
before any view or query sees it (a NUL byte, say, which PostgreSQL cannot store)."""

from django.urls import register_converter
from django.urls.converters import StringConverter


class OrderNumberConverter(StringConverter):
    """An order's public number: "NW" and the sequence's digits (see _next_order_number)."""

    regex = "NW[0-9]{1,18}"


class OrderTokenConverter(StringConverter):
    """The unguessable token of an order's link (secrets.token_urlsafe: URL-safe base64)."""

    regex = "[A-Za-z0-9_-]{16,64}"


register_converter(OrderNumberConverter, "order_number")
register_converter(OrderTokenConverter, "order_token")
