from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from catalog.models import Category, OptionAxis, OptionValue, Product, ProductImage, ProductType, Variant
from catalog.selectors import catalog_cache_clear
from catalog.services import product_catalogue_sync
from shop.money import format_money


class ClearsCatalogCache:
    """Admin mixin: an edit is seen at once by this process's storefront."""

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        catalog_cache_clear()

    def delete_model(self, request, obj) -> None:
        super().delete_model(request, obj)
        catalog_cache_clear()


@admin.register(Category)
class CategoryAdmin(ClearsCatalogCache, admin.ModelAdmin):
    list_display = ["name", "parent", "slug", "position", "is_active"]
    list_filter = ["is_active", "parent"]
    list_editable = ["position", "is_active"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["parent"]


class VariantInlineForm(forms.ModelForm):
    weight_grams = forms.IntegerField(
        min_value=0, max_value=1_000_000, required=False, label="Weight (g)", help_text="Blank: 0."
    )

    def clean_weight_grams(self) -> int:
        return self.cleaned_data["weight_grams"] or 0


class VariantInline(admin.TabularInline):
    model = Variant
    form = VariantInlineForm
    extra = 0
    fields = [
        "sku",
        "options",
        "price",
        "compare_at_price",
        "currency",
        "barcode",
        "weight_grams",
        "is_active",
        "position",
        "stock_available",
    ]
    readonly_fields = ["stock_available"]
    show_change_link = True

    @admin.display(description="Available")
    def stock_available(self, variant: Variant) -> str:
        stock = getattr(variant, "stock", None)
        return "—" if stock is None else f"{stock.available} of {stock.on_hand}"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Variant]:
        return super().get_queryset(request).select_related("stock")


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    extra = 0
    fields = ["preview", "image", "alt_text", "position"]
    readonly_fields = ["preview"]

    @admin.display(description="Preview")
    def preview(self, image: ProductImage) -> str:
        if not image.pk or not image.image:
            return ""
        return format_html('<img src="{}" alt="" width="64" height="64">', image.image.url)


class PriceRangeFilter(admin.SimpleListFilter):
    title = "price"
    parameter_name = "price"
    RANGES = {"under-25": (0, 2499), "25-100": (2500, 9999), "100-plus": (10000, None)}

    def lookups(self, request, model_admin):
        return [("under-25", "Under 25"), ("25-100", "25 to 100"), ("100-plus", "100 and over")]

    def queryset(self, request, queryset):
        if self.value() not in self.RANGES:
            return queryset
        low, high = self.RANGES[self.value()]
        queryset = queryset.filter(price_from__gte=low)
        return queryset if high is None else queryset.filter(price_from__lte=high)


@admin.register(Product)
class ProductAdmin(ClearsCatalogCache, admin.ModelAdmin):
    list_display = ["title", "category", "price", "tax_class", "is_active", "is_featured", "created_at"]
    list_filter = ["is_active", "is_featured", PriceRangeFilter, "category", "product_type", "tax_class"]
    list_select_related = ["category", "tax_class"]
    search_fields = ["title", "slug", "description", "variants__sku"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["price_from", "created_at", "updated_at"]
    autocomplete_fields = ["category"]
    inlines = [VariantInline, ProductImageInline]
    list_per_page = 50

    @admin.display(description="Price from", ordering="price_from")
    def price(self, product: Product) -> str:
        return format_money(product.price_from, product.currency)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        product_catalogue_sync(product_id=form.instance.pk)


@admin.register(Variant)
class VariantAdmin(ClearsCatalogCache, admin.ModelAdmin):
    list_display = ["sku", "product", "label", "price_display", "weight_grams", "is_active"]
    list_filter = ["is_active", "product__category"]
    list_select_related = ["product"]
    search_fields = ["sku", "product__title"]
    autocomplete_fields = ["product"]

    @admin.display(description="Price", ordering="price")
    def price_display(self, variant: Variant) -> str:
        return format_money(variant.price, variant.currency)

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        product_catalogue_sync(product_id=obj.product_id)


class OptionAxisInline(admin.TabularInline):
    model = OptionAxis
    fields = ["name", "label", "is_colour", "position"]
    extra = 0
    show_change_link = True


@admin.register(ProductType)
class ProductTypeAdmin(ClearsCatalogCache, admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [OptionAxisInline]


class OptionValueInline(admin.TabularInline):
    model = OptionValue
    fields = ["value", "swatch", "position"]
    extra = 0


@admin.register(OptionAxis)
class OptionAxisAdmin(ClearsCatalogCache, admin.ModelAdmin):
    list_display = ["label", "product_type", "name", "is_colour", "position"]
    list_filter = ["product_type", "is_colour"]
    inlines = [OptionValueInline]
