"""URLs of the inventory API, mounted at /inventory/v1/ (see inventory/openapi.yaml)."""

from django.urls import path, re_path

from inventory import api

app_name = "inventory"

urlpatterns = [
    path("levels", api.levels, name="levels"),
    path("reservations", api.reservation_list, name="reservation-list"),
    path("reservations/<str:reservation_id>", api.reservation_detail, name="reservation-detail"),
    path("reservations/<str:reservation_id>/commit", api.reservation_commit, name="reservation-commit"),
    path("reservations/<str:reservation_id>/release", api.reservation_release, name="reservation-release"),
    path("reservations/<str:reservation_id>/return", api.reservation_return, name="reservation-return"),
    # Last: any other path under the API gets a JSON 404, not the shop's HTML page.
    re_path(r"^(?P<path>.*)$", api.not_found, name="not-found"),
]
