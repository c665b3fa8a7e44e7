"""What the checkout's admin pages share: read-only pages and inlines, and a bound on bulk actions."""

import re

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import QuerySet
from django.http import HttpRequest

ORDER_NUMBER = re.compile(r"NW\d+", re.IGNORECASE)

# Each selected row costs calls to Stripe and the inventory API within one request.
MAX_ROWS_PER_ACTION = 50


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """View-only: nothing can be added, changed or deleted, and every shown field is read-only."""

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return flatten_fieldsets(self.get_fieldsets(request, obj))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return list(self.fields)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def _too_many(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> bool:
    """Return True (and tell the user) if more rows are selected than one request should handle."""
    if queryset.count() <= MAX_ROWS_PER_ACTION:
        return False
    model_admin.message_user(
        request,
        f"Select at most {MAX_ROWS_PER_ACTION} at a time; nothing was done.",
        messages.ERROR,
    )
    return True


# Orders -------------------------------------------------------------------------------------
