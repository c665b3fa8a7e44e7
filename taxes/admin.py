from django.contrib import admin

from taxes.forms import TaxClassForm, TaxRateForm, TaxRateFormSet, rate_text
from taxes.models import TaxClass, TaxRate


class TaxRateInline(admin.TabularInline):
    model = TaxRate
    form = TaxRateForm
    formset = TaxRateFormSet
    fields = ["country", "rate"]
    extra = 1


@admin.register(TaxClass)
class TaxClassAdmin(admin.ModelAdmin):
    form = TaxClassForm
    list_display = ["name", "code", "position", "rates"]
    list_editable = ["position"]
    search_fields = ["name", "code"]
    inlines = [TaxRateInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("rates")

    @admin.display(description="Rates")
    def rates(self, tax_class: TaxClass) -> str:
        return ", ".join(f"{rate.country} {rate_text(rate.rate)} %" for rate in tax_class.rates.all()) or "—"
