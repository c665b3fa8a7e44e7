"""The shop's error hierarchy: every app's errors derive from ShopError."""


class ShopError(Exception):
    """Base class for errors the shop raises on purpose."""

    #: Shown to the person who caused it; never contains internal detail.
    user_message = "Something went wrong. Please try again."

    def __init__(self, message: str | None = None, *, staff_message: str | None = None) -> None:
        super().__init__(message or self.user_message)
        if message:
            self.user_message = message
        self._staff_message = staff_message

    @property
    def staff_message(self) -> str:
        """Return what staff read when their action failed: what was refused and why, in their
        terms (the shopper's wording unless the error says more)."""
        return self._staff_message or self.user_message


class InvalidInput(ShopError):
    """Input that can never succeed as given."""
