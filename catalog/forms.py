import re
from decimal import Decimal

from django import forms
from django.conf import settings
from django.http import QueryDict

from catalog.facets import OptionFacet
from catalog.listings import SORT_LABELS, SORTS, ListingFilters
from shop.money import to_minor_units

MAX_PRICE = Decimal("1000000")
_OPTION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_MAX_OPTION_VALUES = 20


class ListingForm(forms.Form):
    """The sort and filters a shopper can put in a listing's query string."""

    sort = forms.ChoiceField(required=False)
    min_price = forms.DecimalField(
        required=False, min_value=0, max_value=MAX_PRICE, max_digits=9, decimal_places=2
    )
    max_price = forms.DecimalField(
        required=False, min_value=0, max_value=MAX_PRICE, max_digits=9, decimal_places=2
    )
    in_stock = forms.BooleanField(required=False)
    on_sale = forms.BooleanField(required=False)

    def __init__(self, data: QueryDict, *, allow_relevance: bool = False) -> None:
        super().__init__(data)
        sorts = (["relevance"] if allow_relevance else []) + list(SORTS)
        self.fields["sort"].choices = [(key, SORT_LABELS[key]) for key in sorts]
        self.default_sort = sorts[0]

    def clean(self) -> dict:
        cleaned = super().clean()
        low, high = cleaned.get("min_price"), cleaned.get("max_price")
        if low is not None and high is not None and low > high:
            self.add_error("max_price", "The highest price must not be below the lowest.")
            cleaned.pop("min_price", None)  # an inverted range filters nothing
        return cleaned

    def filters(self, facets: list[OptionFacet] | None = None) -> ListingFilters:
        """Return the filters from the valid fields; invalid ones are left out (and shown)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        currency = settings.SHOP_CURRENCY
        low, high = data.get("min_price"), data.get("max_price")
        return ListingFilters(
            min_price=to_minor_units(low, currency) if low is not None else None,
            max_price=to_minor_units(high, currency) if high is not None else None,
            in_stock=bool(data.get("in_stock")),
            on_sale=bool(data.get("on_sale")),
            options=self._options(facets or []),
            sort=data.get("sort") or self.default_sort,
        )

    def _options(self, facets: list[OptionFacet]) -> dict[str, tuple[str, ...]]:
        """Return the chosen option values that the category actually offers."""
        chosen: dict[str, tuple[str, ...]] = {}
        for facet in facets:
            if not _OPTION_NAME.match(facet.name):
                continue
            offered = {value for value, _count in facet.values}
            values = [v for v in self.data.getlist(facet.name)[:_MAX_OPTION_VALUES] if v in offered]
            if values:
                chosen[facet.name] = tuple(dict.fromkeys(values))
        return chosen
