"""Errors of shopper accounts."""

from shop.exceptions import InvalidInput


class EmailAlreadyRegistered(InvalidInput):
    """Someone signing up with an address an account already uses."""

    status = 409
    code = "email_already_registered"
    user_message = "An account with this e-mail address already exists. Sign in, or reset your password."
