"""Writes for shopper accounts: creating users and keeping their saved addresses."""

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q

from accounts.exceptions import EmailAlreadyRegistered
from accounts.models import Address

logger = logging.getLogger(__name__)


def user_create(*, email: str, password: str, first_name: str = "") -> AbstractBaseUser:
    """Create and return a shopper whose username is the lower-cased e-mail address.

    Raises EmailAlreadyRegistered when any account already uses the address, in
    any letter case, as its username or e-mail.
    """
    user_model = get_user_model()
    email = email.strip().lower()
    if user_model._default_manager.filter(Q(username__iexact=email) | Q(email__iexact=email)).exists():
        raise EmailAlreadyRegistered()
    try:
        with transaction.atomic():
            user = user_model._default_manager.create_user(
                username=email, email=email, password=password, first_name=first_name.strip()
            )
    except IntegrityError as error:
        # A concurrent sign-up with the same address won the unique username.
        raise EmailAlreadyRegistered() from error
    logger.info("user signed up", extra={"user": user.pk})
    return user


def _lock_addresses_of(*, user_id: int) -> None:
    """Lock the user's row so changes to which address is the default happen one at a time.

    Locking the user rather than the addresses also serialises addresses being
    created, which no existing row lock would cover.
    """
    get_user_model()._default_manager.select_for_update().filter(pk=user_id).values_list("pk").get()


def _address_make_only_default(*, address: Address) -> None:
    Address.objects.filter(user_id=address.user_id, is_default=True).exclude(pk=address.pk).update(
        is_default=False
    )


def address_remember(*, user_id: int, **fields: str) -> tuple[Address, bool]:
    """Save an address the shopper used at checkout unless an identical one is saved. Return (it, created).

    `fields` are the address's own (full_name, line1, line2, city, postcode, country,
    phone). Addresses differing only in letter case count as identical. The first
    address a shopper saves becomes their default, so that the next checkout starts with it.
    """
    with transaction.atomic():
        # The lock the account pages take: two checkouts together cannot both save it.
        _lock_addresses_of(user_id=user_id)
        same = {
            f"{name}__iexact": value for name, value in fields.items() if name not in ("country", "phone")
        }
        saved = Address.objects.filter(
            user_id=user_id, country=fields["country"], phone=fields["phone"], **same
        ).first()
        if saved is not None:
            return saved, False
        is_default = not Address.objects.filter(user_id=user_id, is_default=True).exists()
        return Address.objects.create(user_id=user_id, is_default=is_default, **fields), True


def address_create(
    *,
    user: AbstractBaseUser,
    full_name: str,
    line1: str,
    line2: str = "",
    city: str,
    postcode: str,
    country: str,
    phone: str = "",
    is_default: bool = False,
) -> Address:
    """Save and return a new address for the user; a default one replaces the previous default."""
    with transaction.atomic():
        _lock_addresses_of(user_id=user.pk)
        address = Address.objects.create(
            user=user,
            full_name=full_name,
            line1=line1,
            line2=line2,
            city=city,
            postcode=postcode,
            country=country,
            phone=phone,
            is_default=is_default,
        )
        if is_default:
            _address_make_only_default(address=address)
    return address


def address_update(
    *,
    address: Address,
    full_name: str,
    line1: str,
    line2: str = "",
    city: str,
    postcode: str,
    country: str,
    phone: str = "",
    is_default: bool,
) -> Address:
    """Save new values on the address and return it; a default one replaces the previous default."""
    with transaction.atomic():
        _lock_addresses_of(user_id=address.user_id)
        address.full_name = full_name
        address.line1 = line1
        address.line2 = line2
        address.city = city
        address.postcode = postcode
        address.country = country
        address.phone = phone
        address.is_default = is_default
        address.save()
        if is_default:
            _address_make_only_default(address=address)
    return address


def address_delete(*, address: Address) -> None:
    """Delete the saved address. Orders keep their own copy, so none is affected."""
    address.delete()


def address_set_default(*, user: AbstractBaseUser, address_id: int) -> Address:
    """Make the user's address the only default one and return it.

    Raises Address.DoesNotExist when the user has no address with that id.
    """
    with transaction.atomic():
        _lock_addresses_of(user_id=user.pk)
        address = Address.objects.get(pk=address_id, user=user)
        _address_make_only_default(address=address)
        if not address.is_default:
            address.is_default = True
            address.save(update_fields=["is_default"])
    return address
