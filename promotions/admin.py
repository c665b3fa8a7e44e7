"""Promotions in the Django admin, through the dashboard's forms and services: every change
is checked by the same rules and written to the promotion's history."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from promotions.forms import DiscountCodeForm, PromotionForm
from promotions.models import CodeUse, DiscountCode, Promotion, PromotionEvent
from promotions.services import code_normalize
from promotions.staff import SALE_HAS_NO_CODES, code_add, promotion_pause, promotion_resume, promotion_save
from promotions.texts import CODE_TAKEN, reward_text


class DiscountCodeInline(admin.TabularInline):
    """The promotion's codes as they stand; uses are counted by orders, never typed."""

    model = DiscountCode
    fields = ["code", "usage_limit", "uses", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "Codes"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class NewCodeFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        typed = [
            code_normalize(form.cleaned_data["code"])
            for form in self.forms
            if form.has_changed() and "code" in getattr(form, "cleaned_data", {})
        ]
        if len(typed) != len(set(typed)):
            raise ValidationError(f"{CODE_TAKEN} Each new code must differ from the others.")
        if typed and self.instance.kind == Promotion.Kind.SALE:
            raise ValidationError(SALE_HAS_NO_CODES)
        super().clean()


class NewCodeInline(admin.TabularInline):
    """Rows to add codes; added through the same service as the dashboard's."""

    model = DiscountCode
    form = DiscountCodeForm
    formset = NewCodeFormSet
    fields = ["code", "usage_limit"]
    extra = 1
    can_delete = False
    verbose_name = "new code"
    verbose_name_plural = "Add codes"

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).none()


class PromotionEventInline(admin.TabularInline):
    model = PromotionEvent
    fields = ["created_at", "actor", "message"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "History"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("actor")


@admin.register(Promotion)
class PromotionAdmin(admin.ModelAdmin):
    form = PromotionForm
    list_display = ["name", "kind", "reward_given", "is_active", "starts_at", "ends_at", "created_at"]
    list_filter = ["kind", "is_active", "reward"]
    search_fields = ["name", "codes__code"]
    inlines = [DiscountCodeInline, NewCodeInline, PromotionEventInline]
    actions = ["pause", "resume"]

    @admin.display(description="Reward")
    def reward_given(self, promotion: Promotion) -> str:
        return reward_text(promotion)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # pause instead: orders and the history refer to it

    def save_model(self, request: HttpRequest, obj: Promotion, form, change: bool) -> None:
        promotion_save(
            promotion=obj,
            products=form.cleaned_data["products"],
            categories=form.cleaned_data["categories"],
            actor=request.user,
        )

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        # The products and categories were saved with the promotion.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        # The admin's own log reads what each formset saved; the codes as they stand and the
        # history are read-only.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        if not isinstance(formset, NewCodeFormSet):
            return None
        formset.new_objects = [
            code_add(
                promotion=form.instance,
                code=row.cleaned_data["code"],
                usage_limit=row.cleaned_data.get("usage_limit"),
                actor=request.user,
            )
            for row in formset.forms
            if row.has_changed() and row.cleaned_data.get("code")
        ]
        return None

    @admin.action(description="Pause the selected promotions (codes refused, sale prices back to normal)")
    def pause(self, request: HttpRequest, queryset) -> None:
        for promotion_id in queryset.values_list("pk", flat=True):
            promotion_pause(promotion_id=promotion_id, actor=request.user)
        messages.success(request, "The selected promotions are paused.")

    @admin.action(description="Resume the selected promotions")
    def resume(self, request: HttpRequest, queryset) -> None:
        for promotion_id in queryset.values_list("pk", flat=True):
            promotion_resume(promotion_id=promotion_id, actor=request.user)
        messages.success(request, "The selected promotions are resumed.")


@admin.register(CodeUse)
class CodeUseAdmin(admin.ModelAdmin):
    """Each order's use of a code: written by placement and the order's states, never by hand."""

    list_display = ["code", "promotion", "order_number", "status", "customer_key", "created_at"]
    list_filter = ["status"]
    list_select_related = ["code", "promotion", "order"]
    search_fields = ["code__code", "order__number", "customer_key"]
    readonly_fields = ["code", "promotion", "order", "customer_key", "status", "created_at", "updated_at"]
    fields = readonly_fields

    @admin.display(description="Order", ordering="order__number")
    def order_number(self, use: CodeUse) -> str:
        return use.order.number

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
