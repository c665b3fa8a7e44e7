"""Forms for shopper accounts: sign-up, sign-in, password reset and shipping addresses.

Forms parse and validate input only; the writes live in `accounts.services`.
"""

import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, BaseUserCreationForm, PasswordResetForm
from django_countries import countries

from accounts.models import Address

# The username is the e-mail address, so an address must fit the username column.
EMAIL_MAX_LENGTH = get_user_model()._meta.get_field("username").max_length

# UK postcodes (outward code, space, inward code), from the format rules published
# by the UK government, plus the special GIR 0AA.
GB_POSTCODE_PATTERN = re.compile(
    r"^(?:GIR 0AA|"
    r"(?:[A-PR-UWYZ][0-9]{1,2}|[A-PR-UWYZ][A-HK-Y][0-9]{1,2}|[A-PR-UWYZ][0-9][A-HJKPSTUW]"
    r"|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])"
    r" [0-9][ABD-HJLNP-UW-Z]{2})$"
)
POSTCODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9 -]*$")
POSTCODE_MIN_LENGTH = 2
POSTCODE_MAX_LENGTH = 16
PHONE_PATTERN = re.compile(r"^[0-9 +()-]+$")
PHONE_MIN_LENGTH = 6
PHONE_MAX_LENGTH = 20

ADDRESS_FIELDS = ["full_name", "line1", "line2", "city", "postcode", "country", "phone"]


def normalize_email(value: str) -> str:
    """Return the e-mail address as the shop stores it: stripped and lower-cased."""
    return value.strip().lower()


class SignupForm(BaseUserCreationForm):
    """E-mail, optional first name and a password typed twice.

    Validates only; `accounts.services.user_create` creates the account (and refuses
    an e-mail address that is already registered).
    """

    email = forms.EmailField(
        label="E-mail",
        max_length=EMAIL_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    first_name = forms.CharField(
        label="First name",
        required=False,
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )

    class Meta(BaseUserCreationForm.Meta):
        model = get_user_model()
        fields = ("email", "first_name")

    def clean_email(self) -> str:
        email = normalize_email(self.cleaned_data["email"])
        # The password validators compare the password with the username too.
        self.instance.username = email
        return email


class EmailAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, asking for the e-mail address the account was created with."""

    username = forms.EmailField(
        label="E-mail",
        max_length=EMAIL_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": (
            "That e-mail address and password don’t match an account. "
            "Check them and try again; the password is case-sensitive."
        ),
    }

    def clean_username(self) -> str:
        return normalize_email(self.cleaned_data["username"])


class EmailPasswordResetForm(PasswordResetForm):
    email = forms.EmailField(
        label="E-mail",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )


class AddressFieldsMixin:
    """Cleaning shared by every address form: postcode and phone rules.

    CharFields already strip surrounding whitespace; these methods normalise the
    rest. The GB postcode check lives in `clean()` because it depends on the
    country, which is cleaned after the postcode.
    """

    cleaned_data: dict[str, Any]
    add_error: Callable[[str | None, forms.ValidationError], None]

    def clean_postcode(self) -> str:
        postcode = " ".join(self.cleaned_data["postcode"].upper().split())
        if not POSTCODE_MIN_LENGTH <= len(postcode) <= POSTCODE_MAX_LENGTH:
            raise forms.ValidationError(
                "Enter a postcode between %(min)d and %(max)d characters long.",
                code="postcode_length",
                params={"min": POSTCODE_MIN_LENGTH, "max": POSTCODE_MAX_LENGTH},
            )
        if not POSTCODE_PATTERN.match(postcode):
            raise forms.ValidationError(
                "A postcode may contain only letters, numbers, spaces and hyphens.",
                code="postcode_characters",
            )
        return postcode

    def clean_phone(self) -> str:
        phone = " ".join(self.cleaned_data["phone"].split())
        if not phone:
            return ""
        if not PHONE_PATTERN.match(phone):
            raise forms.ValidationError(
                "A phone number may contain only digits, spaces and + ( ) -.", code="phone_characters"
            )
        if not PHONE_MIN_LENGTH <= len(phone) <= PHONE_MAX_LENGTH:
            raise forms.ValidationError(
                "Enter a phone number between %(min)d and %(max)d characters long.",
                code="phone_length",
                params={"min": PHONE_MIN_LENGTH, "max": PHONE_MAX_LENGTH},
            )
        return phone

    def clean(self) -> dict:
        cleaned_data = super().clean()  # type: ignore[misc]
        postcode = cleaned_data.get("postcode")
        if postcode and cleaned_data.get("country") == "GB":
            compact = postcode.replace(" ", "")
            # Written with or without the space, a UK postcode ends in a three-character inward code.
            postcode = f"{compact[:-3]} {compact[-3:]}"
            if GB_POSTCODE_PATTERN.match(postcode):
                cleaned_data["postcode"] = postcode
            else:
                self.add_error(
                    "postcode",
                    forms.ValidationError("Enter a valid UK postcode, like SW1A 1AA.", code="postcode_gb"),
                )
        return cleaned_data


def _text_input(autocomplete: str) -> forms.TextInput:
    return forms.TextInput(attrs={"autocomplete": autocomplete})


ADDRESS_WIDGETS = {
    "full_name": _text_input("name"),
    "line1": _text_input("address-line1"),
    "line2": _text_input("address-line2"),
    "city": _text_input("address-level2"),
    "postcode": _text_input("postal-code"),
    "country": forms.Select(attrs={"autocomplete": "country"}),
    "phone": forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
}
ADDRESS_LABELS = {
    "full_name": "Full name",
    "line1": "Address line 1",
    "line2": "Address line 2",
    "city": "Town or city",
    "postcode": "Postcode",
    "country": "Country",
    "phone": "Phone",
}


class ShippingAddressForm(AddressFieldsMixin, forms.Form):
    """A delivery address, not tied to a saved Address (for checkout)."""

    full_name = forms.CharField(
        label=ADDRESS_LABELS["full_name"], max_length=120, widget=ADDRESS_WIDGETS["full_name"]
    )
    line1 = forms.CharField(label=ADDRESS_LABELS["line1"], max_length=120, widget=ADDRESS_WIDGETS["line1"])
    line2 = forms.CharField(
        label=ADDRESS_LABELS["line2"], max_length=120, required=False, widget=ADDRESS_WIDGETS["line2"]
    )
    city = forms.CharField(label=ADDRESS_LABELS["city"], max_length=80, widget=ADDRESS_WIDGETS["city"])
    postcode = forms.CharField(
        label=ADDRESS_LABELS["postcode"], max_length=POSTCODE_MAX_LENGTH, widget=ADDRESS_WIDGETS["postcode"]
    )
    country = forms.ChoiceField(
        label=ADDRESS_LABELS["country"],
        choices=countries,
        initial=settings.SHOP_COUNTRY,
        widget=ADDRESS_WIDGETS["country"],
    )
    phone = forms.CharField(
        label=ADDRESS_LABELS["phone"],
        # The model's column width; clean_phone applies the real limit after tidying spaces.
        max_length=Address._meta.get_field("phone").max_length,
        required=False,
        widget=ADDRESS_WIDGETS["phone"],
        help_text="Only used if the courier needs to reach you.",
    )


class AddressForm(AddressFieldsMixin, forms.ModelForm):
    """A saved address of the signed-in shopper. Validates only; `accounts.services` saves."""

    class Meta:
        model = Address
        fields = [*ADDRESS_FIELDS, "is_default"]
        labels = {**ADDRESS_LABELS, "is_default": "Use as my default delivery address"}
        widgets = ADDRESS_WIDGETS
        help_texts = {"phone": ShippingAddressForm.base_fields["phone"].help_text}
