"""Saving the address a signed-in shopper used at checkout, when they ask to."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.models import Address
from checkout.services.placement import ShippingAddress


def address_remember(*, user_id: int, address: ShippingAddress) -> tuple[Address, bool]:
    """Save the address to the user's account unless an identical one is saved. Return (it, created).

    Addresses differing only in letter case count as identical. The first address a
    shopper saves becomes their default, so that the next checkout starts with it.
    """
    with transaction.atomic():
        # One at a time per shopper (the lock the account pages take too), so two
        # checkouts together cannot both save the same address.
        get_user_model()._default_manager.select_for_update().filter(pk=user_id).values_list("pk").get()
        saved = Address.objects.filter(
            user_id=user_id,
            full_name__iexact=address.full_name,
            line1__iexact=address.line1,
            line2__iexact=address.line2,
            city__iexact=address.city,
            postcode__iexact=address.postcode,
            country=address.country,
            phone=address.phone,
        ).first()
        if saved is not None:
            return saved, False
        has_default = Address.objects.filter(user_id=user_id, is_default=True).exists()
        created = Address.objects.create(
            user_id=user_id,
            full_name=address.full_name,
            line1=address.line1,
            line2=address.line2,
            city=address.city,
            postcode=address.postcode,
            country=address.country,
            phone=address.phone,
            is_default=not has_default,
        )
    return created, True


aaddress_remember = sync_to_async(address_remember)
