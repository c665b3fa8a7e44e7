from decimal import Decimal

from django import forms

from checkout.models import Order
from dashboard.selectors import TO_SHIP, OrderFilters

AMOUNT_ERRORS = {
    "invalid": "Enter the amount as a number, e.g. 12.50.",
    "min_value": "A refund must be more than zero.",
    "max_value": "That amount is far too large.",
    "max_digits": "That amount is far too large.",
    "max_decimal_places": "Use at most two decimal places.",
    "required": "Enter the amount to refund.",
}


class OrderFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Number, e-mail or name")
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any status"), (TO_SHIP, "Waiting to ship"), *Order.Status.choices],
    )
    payment_status = forms.ChoiceField(
        required=False, choices=[("", "Any payment"), *Order.PaymentStatus.choices], label="Payment"
    )
    fulfilment_status = forms.ChoiceField(
        required=False, choices=[("", "Any shipping"), *Order.FulfilmentStatus.choices], label="Shipping"
    )
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    date_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To")
    flagged = forms.BooleanField(required=False, label="Flagged only")

    def filters(self) -> OrderFilters:
        """Return the filters from the valid fields; invalid ones are left out (and shown)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return OrderFilters(
            query=(data.get("q") or "").replace("\x00", ""),
            status=data.get("status") or "",
            payment_status=data.get("payment_status") or "",
            fulfilment_status=data.get("fulfilment_status") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            flagged=bool(data.get("flagged")),
        )


class FulfilForm(forms.Form):
    carrier = forms.CharField(max_length=60, error_messages={"required": "Give the carrier."})
    tracking_number = forms.CharField(
        max_length=100, error_messages={"required": "Give the tracking number."}
    )


class RefundForm(forms.Form):
    """An amount, or how many of each order line to give back (fields line-<id>): a line's refund
    gives back what was paid for it and its own VAT."""

    amount = forms.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("10000000"),
        error_messages=AMOUNT_ERRORS,
        required=False,
    )
    reason = forms.CharField(max_length=200, required=False)
    # One per rendered form: submitting the same form twice gives one refund.
    request_key = forms.CharField(max_length=64, widget=forms.HiddenInput)

    def clean(self) -> dict:
        cleaned = super().clean()
        lines = {}
        for name, value in self.data.items():
            if name.startswith("line-") and str(value).strip() not in ("", "0"):
                line_id, quantity = name.removeprefix("line-"), str(value).strip()
                if not (line_id.isdigit() and quantity.isdigit() and 0 < int(quantity) <= 10_000):
                    raise forms.ValidationError("Enter each line's quantity to refund as a whole number.")
                lines[int(line_id)] = int(quantity)
        if lines and cleaned.get("amount"):
            raise forms.ValidationError("Refund either an amount or lines, not both.")
        if not lines and not cleaned.get("amount") and not self.errors:
            raise forms.ValidationError("Enter an amount, or how many of a line to refund.")
        cleaned["lines"] = lines
        return cleaned


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=200, error_messages={"required": "Say why the order is canceled."})


class StockAdjustForm(forms.Form):
    on_hand = forms.IntegerField(
        min_value=0,
        max_value=10_000_000,
        error_messages={
            "invalid": "On hand must be a whole number.",
            "min_value": "On hand cannot be negative.",
            "max_value": "That is more than the shop can hold.",
            "required": "Give the new on-hand count.",
        },
    )
    reason = forms.CharField(max_length=200, error_messages={"required": "Give a reason for the change."})
