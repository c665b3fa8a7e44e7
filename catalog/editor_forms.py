"""What staff may set for a product in the dashboard's editor, and the messages that refuse the
rest: its text, place and tax; each variant's SKU, prices (typed as £24.99 or 24.99), weight,
barcode, stock and whether it is sold."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.forms import formset_factory
from django.utils.text import slugify

from catalog.models import Category, Product, ProductType, Variant
from shop.forms import MoneyField
from taxes.models import TaxClass

MAX_PRICE = 10_000_000  # minor units: £100,000.00
MAX_STOCK = 1_000_000
SLUG_TAKEN = "Another product has that web address: change it."


class ProductForm(forms.ModelForm):
    # When the editor was opened: a save over someone else's since then is refused, not lost.
    seen = forms.CharField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Product
        fields = [
            "title",
            "slug",
            "description",
            "category",
            "product_type",
            "tax_class",
            "seo_title",
            "seo_description",
            "is_active",
            "publish_at",
            "is_featured",
        ]
        labels = {
            "publish_at": "Shown from",
            "slug": "Web address",
            "is_active": "Published (shown in the shop)",
            "is_featured": "Featured",
        }
        help_texts = {
            "publish_at": "Blank: as soon as it is published. In the shop's time.",
            "slug": "Blank: made from the title.",
            "description": "Plain text; a blank line starts a paragraph.",
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 6}),
            "publish_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        }
        error_messages = {
            "title": {"required": "Give the product a title shoppers will read."},
            "category": {
                "required": "Choose a category.",
                "invalid_choice": "Choose a category from the list.",
            },
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["category"].queryset = Category.objects.order_by("name")
        self.fields["product_type"].queryset = ProductType.objects.order_by("name")
        self.fields["tax_class"].queryset = TaxClass.objects.order_by("name")
        if self.instance.pk and not self.is_bound:
            self.initial["seen"] = self.instance.updated_at.isoformat()

    def clean_slug(self) -> str:
        slug = slugify(self.cleaned_data.get("slug") or self.cleaned_data.get("title") or "")[:220]
        if not slug:
            raise ValidationError("Give the product a web address of letters and digits.")
        if Product.objects.filter(slug=slug).exclude(pk=self.instance.pk).exists():
            raise ValidationError(SLUG_TAKEN)
        return slug


class VariantRowForm(forms.Form):
    """One row of the variant table."""

    id = forms.IntegerField(widget=forms.HiddenInput)
    sku = forms.CharField(
        max_length=64, label="SKU", error_messages={"required": "Give each variant its SKU."}
    )
    price = MoneyField(most=MAX_PRICE, label="Price")
    compare_at_price = MoneyField(
        most=MAX_PRICE, what="A compare-at price", label="Compare at", required=False
    )
    weight_grams = forms.IntegerField(min_value=0, max_value=1_000_000, label="Weight (g)", required=False)
    barcode = forms.CharField(max_length=64, required=False, label="Barcode")
    on_hand = forms.IntegerField(
        min_value=0,
        max_value=MAX_STOCK,
        label="On hand",
        error_messages={
            "min_value": "Stock cannot be negative.",
            "required": "Give the stock on hand (0 for none).",
        },
    )
    is_active = forms.BooleanField(required=False, label="Sold")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():  # in a table, each input says what it is
            field.widget.attrs.setdefault("aria-label", field.label)
            if isinstance(field.widget, forms.TextInput | forms.NumberInput):
                field.widget.attrs.setdefault("size", 9)

    def clean(self) -> dict:
        data = super().clean()
        price, compare = data.get("price"), data.get("compare_at_price")
        if price is not None and compare is not None and compare <= price:
            self.add_error("compare_at_price", "A compare-at price must be above the price (blank for none).")
        if price == 0 and data.get("is_active"):
            self.add_error("price", "A variant that is sold needs a price above £0.00.")
        return data


class BaseVariantRows(forms.BaseFormSet):
    def clean(self) -> None:
        if any(self.errors):
            return
        skus = [form.cleaned_data["sku"].strip().upper() for form in self.forms if form.cleaned_data]
        if len(skus) != len(set(skus)):
            raise ValidationError("Each variant needs its own SKU: two rows share one.")
        ids = [form.cleaned_data["id"] for form in self.forms if form.cleaned_data]
        taken = Variant.objects.filter(sku__in=skus).exclude(pk__in=ids).values_list("sku", flat=True)
        if taken:
            raise ValidationError(f"Another product's variant has the SKU {', '.join(sorted(taken))}.")


VariantRows = formset_factory(
    VariantRowForm, formset=BaseVariantRows, extra=0, max_num=500, validate_max=True
)


class BulkForm(forms.Form):
    """One bulk edit of the products ticked in the list."""

    products = forms.TypedMultipleChoiceField(
        coerce=int, error_messages={"required": "Tick the products to change first."}
    )
    action = forms.ChoiceField(
        widget=forms.Select(attrs={"id": "bulk-action"}),
        choices=[
            ("publish", "Publish"),
            ("unpublish", "Unpublish"),
            ("category", "Move to category"),
            ("prices", "Change prices by %"),
            ("stock", "Set stock of every variant"),
        ],
        error_messages={
            "required": "Choose what to do.",
            "invalid_choice": "Choose what to do from the list.",
        },
    )
    category = forms.ModelChoiceField(
        queryset=Category.objects.order_by("name"),
        required=False,
        empty_label="(category)",
        error_messages={"invalid_choice": "Choose a category from the list."},
    )
    percent = forms.DecimalField(
        required=False,
        min_value=-90,
        max_value=500,
        max_digits=5,
        decimal_places=2,
        error_messages={
            "invalid": "Give the change as a percentage, e.g. 10 or -15.",
            "min_value": "Prices can come down by at most 90 %%.",
            "max_value": "Prices can go up by at most 500 %%.",
        },
    )
    stock = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_STOCK,
        error_messages={
            "min_value": "Stock cannot be negative.",
            "invalid": "Give the stock as a whole number.",
        },
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        ids = self.data.getlist("products") if hasattr(self.data, "getlist") else []
        self.fields["products"].choices = [(value, value) for value in ids if str(value).isdigit()]

    def clean(self) -> dict:
        data = super().clean()
        needed = {"category": "category", "prices": "percent", "stock": "stock"}.get(data.get("action", ""))
        if needed and data.get(needed) is None and needed not in self.errors:
            self.add_error(
                needed,
                {
                    "category": "Choose the category.",
                    "percent": "Give the percentage.",
                    "stock": "Give the stock.",
                }[needed],
            )
        if data.get("action") == "prices" and data.get("percent") == 0:
            self.add_error("percent", "A change of 0 % changes nothing.")
        return data

    def value(self):
        return {
            "category": self.cleaned_data.get("category"),
            "prices": self.cleaned_data.get("percent"),
            "stock": self.cleaned_data.get("stock"),
        }.get(self.cleaned_data["action"])
