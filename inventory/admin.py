from django.contrib import admin
from django.db.models import F
from django.http import HttpRequest

from inventory.models import Reservation, ReservationLine, Stock


class StockLevelFilter(admin.SimpleListFilter):
    title = "stock level"
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return [("out", "Out of stock"), ("low", "Low stock"), ("ok", "In stock")]

    def queryset(self, request, queryset):
        available = F("on_hand") - F("allocated")
        queryset = queryset.alias(available_units=available)
        if self.value() == "out":
            return queryset.filter(available_units__lte=0)
        if self.value() == "low":
            return queryset.filter(available_units__gt=0, available_units__lte=F("low_stock_threshold"))
        if self.value() == "ok":
            return queryset.filter(available_units__gt=F("low_stock_threshold"))
        return queryset


@admin.register(Stock)
class StockAdmin(admin.ModelAdmin):
    list_display = ["sku", "product", "on_hand", "allocated", "available", "low_stock_threshold"]
    list_editable = ["on_hand", "low_stock_threshold"]
    list_filter = [StockLevelFilter, "variant__product__category"]
    list_select_related = ["variant__product"]
    search_fields = ["variant__sku", "variant__product__title"]
    readonly_fields = ["variant", "allocated", "updated_at"]
    ordering = ["variant__sku"]

    @admin.display(description="SKU", ordering="variant__sku")
    def sku(self, stock: Stock) -> str:
        return stock.variant.sku

    @admin.display(description="Product", ordering="variant__product__title")
    def product(self, stock: Stock) -> str:
        return stock.variant.product.title

    @admin.display(description="Available")
    def available(self, stock: Stock) -> int:
        return stock.available

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class ReadOnlyMixin:
    """Read-only: reservations change only through the inventory services (commit, release, expire)."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReservationLineInline(ReadOnlyMixin, admin.TabularInline):
    model = ReservationLine
    extra = 0
    fields = ["sku", "quantity", "variant"]
    readonly_fields = fields


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["reference", "status", "expires_at", "created_at"]
    list_filter = ["status"]
    search_fields = ["reference", "id", "idempotency_key"]
    date_hierarchy = "created_at"
    inlines = [ReservationLineInline]
