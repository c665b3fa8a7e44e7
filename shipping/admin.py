from django.contrib import admin, messages
from django.db import transaction

from shipping.forms import BandForm, BandFormSet, MethodForm, ZoneForm, zone_warning
from shipping.models import ShippingBand, ShippingMethod, ShippingZone
from shipping.services import method_bands_replace, zones_lock


class ShippingMethodInline(admin.TabularInline):
    """The zone's methods at a glance; a method is added on its own page, with its bands."""

    model = ShippingMethod
    fields = ["code", "name", "is_active", "position"]
    extra = 0
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ShippingZone)
class ShippingZoneAdmin(admin.ModelAdmin):
    form = ZoneForm
    list_display = ["name", "country_codes", "is_active", "position"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    inlines = [ShippingMethodInline]

    @admin.display(description="Countries")
    def country_codes(self, zone: ShippingZone) -> str:
        return ", ".join(zone.countries)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method != "POST":
            return super().changeform_view(request, object_id, form_url, extra_context)
        # Checked and saved under the zones' lock: two overlapping zones saved at once cannot both pass.
        with transaction.atomic():
            zones_lock()
            return super().changeform_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        zones = ShippingZone.objects.prefetch_related("methods__bands")
        for zone in zones:
            warning = zone_warning(zone, zone.methods.all())
            if warning:
                messages.warning(request, warning)
        return super().changelist_view(request, extra_context)


class ShippingBandInline(admin.TabularInline):
    model = ShippingBand
    form = BandForm
    formset = BandFormSet
    fields = ["lower", "upper", "price"]
    extra = 1


@admin.register(ShippingMethod)
class ShippingMethodAdmin(admin.ModelAdmin):
    form = MethodForm
    fields = [
        "zone",
        "code",
        "name",
        "description",
        "estimate",
        "basis",
        "free_over",
        "is_active",
        "position",
    ]
    list_display = ["name", "code", "zone", "basis", "is_active", "position"]
    list_filter = ["is_active", "zone", "basis"]
    list_select_related = ["zone"]
    search_fields = ["name", "code", "zone__name"]
    inlines = [ShippingBandInline]

    def save_formset(self, request, form, formset, change) -> None:
        if not isinstance(formset, BandFormSet):
            return super().save_formset(request, form, formset, change)
        method_bands_replace(method_id=form.instance.pk, bands=formset.bands())
        # The admin's history reads what the formset saved; the bands were replaced as a whole.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        return None
