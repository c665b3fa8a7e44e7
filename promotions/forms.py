"""What staff may set for a promotion and its codes, and the messages that refuse the rest.

Used by the dashboard and the Django admin alike. Amounts are typed in the shop's currency
(e.g. 5.00) and cleaned to integer minor units; dates and times are the shop's local time.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from catalog.models import Category, Product
from promotions.models import DiscountCode, Promotion
from promotions.texts import CODE_TAKEN, percent_text
from shop.money import currency_exponent, format_money, to_major_units, to_minor_units

PERCENT_RANGE = "Enter a percentage above 0 and at most 100."
END_BEFORE_START = "The end must be after the start."
CODE_SHAPE = "A code is 3 to 40 letters, digits, - or _ (no spaces), starting with a letter or digit."
PREFIX_SHAPE = "A prefix is up to 32 letters, digits, - or _ (no spaces), starting with a letter or digit."
LIMIT_RANGE = "Enter a usage limit of 1 or more, or leave it blank for no limit."
COUNT_RANGE = "Enter how many codes to make, from 1 to 5,000."
# No promotion takes more than this off, nor asks a bigger spend: a larger figure is a slip.
MAX_AMOUNT = 10_000_000  # minor units: £100,000.00
MAX_USAGE_LIMIT = 2_147_483_647  # what the column holds
MAX_BATCH = 5000
# A leading - (or +, =, @) would make a spreadsheet read an exported code as a formula.
CODE_CHARACTERS = re.compile(r"([A-Za-z0-9][A-Za-z0-9_-]*)?")
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class PoundsField(forms.DecimalField):
    """An amount typed in the shop's currency (e.g. 5.00), cleaned to integer minor units."""

    def __init__(self, *, what: str, positive: bool, **kwargs) -> None:
        self.what, self.positive = what, positive
        self.exponent = currency_exponent(settings.SHOP_CURRENCY)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "size": 10}))
        super().__init__(**kwargs)
        example = format(to_major_units(500, settings.SHOP_CURRENCY), "f")
        self.error_messages["invalid"] = f"Enter {what} as a number, e.g. {example}."

    def prepare_value(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            return to_major_units(value, settings.SHOP_CURRENCY)
        return value

    def has_changed(self, initial, data) -> bool:
        return super().has_changed(self.prepare_value(initial), data)

    def validate(self, value) -> None:
        super().validate(value)
        if value is None:
            return
        most = format_money(MAX_AMOUNT, settings.SHOP_CURRENCY)
        if value > to_major_units(MAX_AMOUNT, settings.SHOP_CURRENCY):
            raise ValidationError(f"{self.what.capitalize()} of that size is not possible: at most {most}.")
        if value < 0 or (self.positive and value == 0):
            above = "above 0" if self.positive else "of 0 or more"
            raise ValidationError(f"Enter {self.what} {above}.")
        if value != value.quantize(Decimal(1).scaleb(-self.exponent)):
            raise ValidationError(f"Use at most {self.exponent} decimal places.")

    def clean(self, value) -> int | None:
        amount = super().clean(value)
        return None if amount is None else to_minor_units(amount, settings.SHOP_CURRENCY)


class PercentField(forms.DecimalField):
    """A percentage above 0 and at most 100, to two decimal places (e.g. 10 or 12.5)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "size": 6}))
        super().__init__(**kwargs)
        self.error_messages["invalid"] = PERCENT_RANGE

    def prepare_value(self, value):
        return percent_text(value) if isinstance(value, Decimal) and value.is_finite() else value

    def validate(self, value) -> None:
        super().validate(value)
        if value is None:
            return
        if not Decimal(0) < value <= Decimal(100):
            raise ValidationError(PERCENT_RANGE, code="out_of_range")
        if value != value.quantize(Decimal("0.01")):
            raise ValidationError("Give the percentage to at most two decimal places, e.g. 12.5.")


class LocalDateTimeField(forms.DateTimeField):
    """A date and time in the shop's time zone, typed or picked (a datetime-local input)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT)
    input_formats = [DATETIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]
    default_error_messages = {"invalid": "Enter a date and time, e.g. 2026-06-01 09:00."}


def _choices_field(queryset, *, what: str, label: str, help_text: str) -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        queryset=queryset,
        required=False,
        label=label,
        help_text=help_text,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        error_messages={
            "invalid_choice": f"Choose {what} from the list (one of them no longer exists).",
            "invalid_pk_value": f"Choose {what} from the list.",
            "invalid_list": f"Choose {what} from the list.",
        },
    )


class PromotionForm(forms.ModelForm):
    percent = PercentField(required=False, label="Percentage off", help_text="For a percentage off, e.g. 10.")
    amount = PoundsField(
        what="an amount",
        positive=True,
        required=False,
        label="Amount off",
        help_text="For an amount off, e.g. 5.00.",
    )
    min_spend = PoundsField(
        what="a minimum spend",
        positive=False,
        required=False,
        label="Minimum spend",
        help_text="The goods' total before delivery. Blank: none.",
    )
    starts_at = LocalDateTimeField(required=False, label="Starts", help_text="Blank: at once.")
    ends_at = LocalDateTimeField(required=False, label="Ends", help_text="Blank: no end.")

    class Meta:
        model = Promotion
        fields = [
            "name",
            "kind",
            "reward",
            "percent",
            "amount",
            "products",
            "categories",
            "min_spend",
            "starts_at",
            "ends_at",
            "once_per_customer",
            "combinable",
            "exclude_sale_items",
            "is_active",
            "note",
        ]
        labels = {
            "kind": "Kind",
            "is_active": "Active (off: paused)",
            "once_per_customer": "Once per customer",
            "combinable": "Combinable with other codes",
            "exclude_sale_items": "Not for items on sale",
        }
        help_texts = {
            "note": "For staff only.",
            "kind": "Codes: shoppers type one. Sale: prices are lowered for everyone while it runs.",
            "combinable": "Codes only: its codes may be used together with other codes marked so.",
            "exclude_sale_items": "Codes only: items on sale keep their sale price, not reduced again.",
        }
        widgets = {"note": forms.Textarea(attrs={"rows": 3})}
        error_messages = {
            "name": {
                "required": "Give the promotion a name shoppers will read.",
                "max_length": "A name is at most 120 characters.",
            },
            "kind": {
                "required": "Choose whether the promotion gives codes or is a sale.",
                "invalid_choice": "Choose whether the promotion gives codes or is a sale.",
            },
            "reward": {
                "required": "Choose the reward.",
                "invalid_choice": "Choose the reward: a percentage off, an amount off or free delivery.",
            },
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["products"] = _choices_field(
            Product.objects.order_by("title"),
            what="products",
            label="Products",
            help_text="None chosen, and no category: the whole order (for a sale, everything).",
        )
        self.fields["categories"] = _choices_field(
            Category.objects.order_by("name"),
            what="categories",
            label="Categories",
            help_text="A category covers its subcategories.",
        )

        self.fields["kind"].required = False  # left out: a code promotion, as before sales existed
        if self.instance.pk is not None:  # a saved promotion keeps its kind
            self.fields["kind"].disabled = True
            self.fields["kind"].help_text = "Fixed once saved."

    def clean_kind(self) -> str:
        return self.cleaned_data.get("kind") or self.instance.kind or Promotion.Kind.CODE

    def clean_min_spend(self) -> int | None:
        return self.cleaned_data.get("min_spend") or None  # 0 is no minimum

    def _sale_clean(self, data: dict) -> None:
        """Refuse what a sale cannot have: free delivery, 100 % off, a code's conditions."""
        if data.get("reward") == Promotion.Reward.FREE_DELIVERY:
            self.add_error("reward", "A sale lowers prices: choose a percentage or an amount off.")
        percent = data.get("percent")
        if percent is not None and percent >= 100:
            self.add_error("percent", "A sale takes less than 100 % off: enter a percentage below 100.")
        if data.get("min_spend"):
            self.add_error("min_spend", "A sale has no minimum spend: leave it blank.")
        for field in ("once_per_customer", "combinable", "exclude_sale_items"):
            if data.get(field):
                label = self.fields[field].label
                self.add_error(field, f"“{label}” is for discount codes: a sale applies to everyone.")

    def clean(self) -> dict:
        data = super().clean()
        reward = data.get("reward")
        percent, amount = data.get("percent"), data.get("amount")
        if reward == Promotion.Reward.PERCENT:
            if percent is None and "percent" not in self.errors:
                self.add_error("percent", PERCENT_RANGE)
            if amount is not None:
                self.add_error("amount", "A percentage off takes no amount: leave the amount blank.")
        elif reward == Promotion.Reward.FIXED:
            if amount is None and "amount" not in self.errors:
                self.add_error("amount", "Enter the amount off, e.g. 5.00.")
            if percent is not None:
                self.add_error("percent", "An amount off takes no percentage: leave the percentage blank.")
        elif reward == Promotion.Reward.FREE_DELIVERY:
            for field in ("percent", "amount"):
                if data.get(field) is not None:
                    self.add_error(field, "Free delivery takes no percentage or amount: leave it blank.")
        if data.get("kind") == Promotion.Kind.SALE:
            self._sale_clean(data)
        starts, ends = data.get("starts_at"), data.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", END_BEFORE_START)
        return data


def _code_text(value: str, *, shortest: int, longest: int, message: str) -> str:
    text = (value or "").strip().upper()
    if not shortest <= len(text) <= longest or not CODE_CHARACTERS.fullmatch(text):
        raise ValidationError(message)
    return text


class DiscountCodeForm(forms.ModelForm):
    code = forms.CharField(
        max_length=200,
        label="Code",
        help_text="3 to 40 letters, digits, - or _; shoppers may type it in any case.",
        error_messages={"required": CODE_SHAPE, "max_length": CODE_SHAPE},
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "spellcheck": "false", "size": 24}),
    )
    usage_limit = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_USAGE_LIMIT,
        label="Usage limit",
        help_text="How many orders may use it in all. Blank: no limit.",
        error_messages={"invalid": LIMIT_RANGE, "min_value": LIMIT_RANGE, "max_value": LIMIT_RANGE},
    )

    class Meta:
        model = DiscountCode
        fields = ["code", "usage_limit"]

    def clean_code(self) -> str:
        text = _code_text(self.cleaned_data.get("code", ""), shortest=3, longest=40, message=CODE_SHAPE)
        if DiscountCode.objects.filter(code__iexact=text).exclude(pk=self.instance.pk).exists():
            raise ValidationError(CODE_TAKEN)
        return text


class CodeBatchForm(forms.Form):
    prefix = forms.CharField(
        required=False,
        max_length=200,
        label="Prefix",
        help_text="Each code is the prefix and 8 random characters, e.g. SPRING-7KQ2M9XA.",
        error_messages={"max_length": PREFIX_SHAPE},
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "spellcheck": "false", "size": 16}),
    )
    count = forms.IntegerField(
        min_value=1,
        max_value=MAX_BATCH,
        label="How many",
        help_text="Each code can be used once. At most 5,000 at a time.",
        error_messages={
            "required": COUNT_RANGE,
            "invalid": COUNT_RANGE,
            "min_value": COUNT_RANGE,
            "max_value": COUNT_RANGE,
        },
    )

    def clean_prefix(self) -> str:
        return _code_text(self.cleaned_data.get("prefix", ""), shortest=0, longest=32, message=PREFIX_SHAPE)
