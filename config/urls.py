from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

urlpatterns = [
    path("", include("shop.urls")),
    path("", include("catalog.urls")),
    path("inventory/v1/", include("inventory.urls")),
    path("account/", include("accounts.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("", include("checkout.urls")),
    path("admin/", admin.site.urls),
]

if settings.BENCH_ENDPOINTS:
    from shop.views import bench_ping

    urlpatterns += [path("bench/ping", bench_ping)]

if settings.SERVE_MEDIA:
    urlpatterns += [
        re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    ]

handler400 = "shop.errors.bad_request"
handler404 = "shop.errors.page_not_found"
handler500 = "shop.errors.server_error"
