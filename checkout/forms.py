from django import forms

from accounts.forms import ShippingAddressForm
from checkout.quote import QuoteInvalid, quote_read
from checkout.services.carts import MAX_LINE_QUANTITY
from checkout.services.placement import ShippingAddress
from shipping.selectors import DeliveryOffer


class CartLineForm(forms.Form):
    variant = forms.IntegerField(
        min_value=1, max_value=2**62, error_messages={"required": "Choose an option."}
    )
    quantity = forms.IntegerField(
        min_value=0,
        max_value=MAX_LINE_QUANTITY,
        error_messages={
            "min_value": "The quantity cannot be negative.",
            "max_value": f"You can buy at most {MAX_LINE_QUANTITY} of one item.",
            "invalid": "Enter the quantity as a whole number.",
        },
    )


class CartAddForm(CartLineForm):
    quantity = forms.IntegerField(
        min_value=1,
        max_value=MAX_LINE_QUANTITY,
        initial=1,
        error_messages={
            "min_value": "Choose at least 1.",
            "max_value": f"You can buy at most {MAX_LINE_QUANTITY} of one item.",
            "invalid": "Enter the quantity as a whole number.",
        },
    )


OUT_OF_DATE = "This checkout page is out of date. Please check your order and submit it again."


class CheckoutForm(ShippingAddressForm):
    """E-mail, delivery address and method. Prices are never taken from the browser."""

    email = forms.EmailField(max_length=254, label="E-mail")
    # Any code: one no longer offered is placement's to refuse, showing the new totals (409).
    shipping_method = forms.SlugField(
        max_length=40,
        label="Delivery",
        error_messages={
            "required": "Please choose a delivery option.",
            "invalid": "Please choose one of the delivery options shown for this address.",
        },
    )
    cart_version = forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=0,
        max_value=2**31 - 1,
        error_messages={key: OUT_OF_DATE for key in ("required", "invalid", "min_value", "max_value")},
    )

    # The prices the page showed, signed by us: compared at placement, never used as a price.
    # A form without it was not sent from the page the shopper saw: it is shown again, with
    # the totals of the moment, to be confirmed.
    quote = forms.CharField(
        widget=forms.HiddenInput,
        max_length=20000,
        error_messages={"max_length": OUT_OF_DATE, "required": OUT_OF_DATE},
    )
    save_address = forms.BooleanField(
        required=False, label="Save this address to my account, to use next time"
    )

    field_order = ["email", "full_name", "line1", "line2", "city", "postcode", "country", "phone"]

    def __init__(
        self, *args, methods: list[DeliveryOffer], countries: list[tuple[str, str]], **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        # Only the countries some delivery zone serves; the methods that reach the one chosen start checked.
        country = self.fields["country"]
        country.choices = countries
        country.widget.attrs["data-checkout-reprice"] = ""
        country.error_messages["invalid_choice"] = (
            "Sorry, we do not deliver to that country. Please choose one of those listed."
        )
        codes = [method.code for method in methods]
        if methods and self.initial.get("shipping_method") not in codes:
            self.initial["shipping_method"] = codes[0]

    def shipping_address(self) -> ShippingAddress:
        """Return the delivery address typed, once the form is valid."""
        data = self.cleaned_data
        return ShippingAddress(
            full_name=data["full_name"],
            line1=data["line1"],
            line2=data.get("line2", ""),
            city=data["city"],
            postcode=data["postcode"],
            country=data["country"],
            phone=data.get("phone", ""),
        )

    def clean_quote(self):
        value = self.cleaned_data["quote"]
        try:
            return quote_read(value)
        except QuoteInvalid as error:
            raise forms.ValidationError(OUT_OF_DATE, code="quote_invalid") from error


def checkout_initial(*, user, addresses: list, chosen_id: str) -> dict:
    """Return the checkout form's starting values: the account's e-mail, the chosen (or default) address."""
    chosen = next((a for a in addresses if str(a.pk) == chosen_id), None) or (
        addresses[0] if addresses else None
    )
    initial: dict = {"email": user.email if user.is_authenticated else ""}
    if chosen is not None:
        initial.update(
            full_name=chosen.full_name,
            line1=chosen.line1,
            line2=chosen.line2,
            city=chosen.city,
            postcode=chosen.postcode,
            country=str(chosen.country),  # the code: a saved address holds a Country
            phone=chosen.phone,
        )
    return initial
