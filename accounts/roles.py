"""Staff roles: who may edit the catalogue, who may handle orders and refunds, who may change the
shop's settings. Each is a Django group holding the model permissions it needs; a superuser may
do everything. The dashboard shows each person only the sections their roles open, and refuses
the rest with 403.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

CATALOGUE, ORDERS, SETTINGS = "Catalogue editors", "Order handlers", "Settings managers"

# What each role may do, as app labels (every permission of their models) or single permissions.
ROLES: dict[str, dict[str, list[str]]] = {
    CATALOGUE: {
        "apps": ["catalog", "promotions"],
        "permissions": ["inventory.view_stock", "inventory.change_stock"],
    },
    ORDERS: {
        "apps": [],
        "permissions": [
            "checkout.view_order",
            "checkout.change_order",
            "checkout.view_refund",
            "checkout.add_refund",
            "checkout.view_payment",
            "checkout.view_webhookevent",
            "checkout.change_webhookevent",
        ],
    },
    SETTINGS: {"apps": ["taxes", "shipping"], "permissions": []},
}

# The permission each dashboard section asks for.
SECTION_PERMISSIONS = {
    "catalogue": "catalog.change_product",
    "orders": "checkout.change_order",
    "stock": "inventory.change_stock",
    "promotions": "promotions.change_promotion",
    "settings": "shipping.change_shippingzone",
}


def _permissions(spec: dict[str, list[str]]) -> Q:
    wanted = Q(content_type__app_label__in=spec["apps"])
    for name in spec["permissions"]:
        app_label, codename = name.split(".")
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    return wanted


def roles_ensure(*, group_model=Group, permission_model=Permission) -> dict[str, Group]:
    """Make the three roles' groups hold exactly their permissions (idempotent) and return them."""
    groups = {}
    for name, spec in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        group.permissions.set(permission_model.objects.filter(_permissions(spec)))
        groups[name] = group
    return groups


def sections_for(permissions: set[str], *, is_superuser: bool) -> dict[str, bool]:
    """Return which dashboard sections a person with these permissions may open."""
    return {section: is_superuser or needed in permissions for section, needed in SECTION_PERMISSIONS.items()}
