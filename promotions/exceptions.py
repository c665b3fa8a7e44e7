"""Why a code does not apply, in words a shopper understands."""

from shop.exceptions import ShopError


class CodeNotApplicable(ShopError):
    """The code cannot be used on this cart as it is (the message says why)."""

    status = 409
    code = "code_not_applicable"
    user_message = "That code cannot be used on this order."


class CodeUsedUp(CodeNotApplicable):
    """The code's last use went to another order first."""

    code = "code_used_up"
    user_message = (
        "Sorry — that code has just been used up by another order, so it was taken off. Nothing was charged; "
        "please check your new total."
    )


class CodeAlreadyUsed(CodeNotApplicable):
    code = "code_already_used"
    user_message = "You have already used that code: it can be used once per customer."
