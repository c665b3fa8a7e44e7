from django.urls import path

from dashboard import export, import_views, products_views, promotions_views, settings_views, views
from shop import converters  # noqa: F401 (registers the path converters)

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("orders/", views.order_list, name="orders"),
    path("orders/export.csv", export.order_export, name="orders-export"),
    path("orders/<order_number:number>/", views.order_detail, name="order-detail"),
    path("orders/<order_number:number>/fulfil/", views.order_fulfil, name="order-fulfil"),
    path("orders/<order_number:number>/refund/", views.order_refund, name="order-refund"),
    path("orders/<order_number:number>/cancel/", views.order_cancel, name="order-cancel"),
    path("orders/<order_number:number>/resolve-flag/", views.order_resolve_flag, name="order-resolve-flag"),
    path("products/", products_views.product_list, name="products"),
    path("products/add/", products_views.product_add, name="product-add"),
    path("products/import/", import_views.catalogue_import, name="catalogue-import"),
    path("products/import/<int:pk>/", import_views.import_job, name="catalogue-import-job"),
    path("products/import/<int:pk>/commit/", import_views.import_commit, name="catalogue-import-commit"),
    path("products/export.csv", import_views.catalogue_export, name="catalogue-export"),
    path("products/<int:pk>/", products_views.product_edit, name="product-edit"),
    path("products/<int:pk>/variants/generate/", products_views.variants_generate, name="variants-generate"),
    path("products/<int:pk>/images/", products_views.images_upload, name="product-images"),
    path("products/<int:pk>/images/<int:image_id>/", products_views.image_change, name="product-image"),
    path("stock/", views.stock_list, name="stock"),
    path("stock/<int:variant_id>/adjust/", views.stock_adjust, name="stock-adjust"),
    path("webhooks/<int:pk>/replay/", views.webhook_replay, name="webhook-replay"),
    path("promotions/", promotions_views.promotion_list, name="promotions"),
    path("promotions/add/", promotions_views.promotion_add, name="promotion-add"),
    path("promotions/<int:pk>/", promotions_views.promotion_detail, name="promotion-detail"),
    path("promotions/<int:pk>/edit/", promotions_views.promotion_edit, name="promotion-edit"),
    path("promotions/<int:pk>/active/", promotions_views.promotion_active, name="promotion-active"),
    path("promotions/<int:pk>/codes/add/", promotions_views.code_add, name="promotion-code-add"),
    path(
        "promotions/<int:pk>/codes/generate/",
        promotions_views.codes_generate,
        name="promotion-codes-generate",
    ),
    path("promotions/<int:pk>/codes.csv", promotions_views.codes_export, name="promotion-codes-export"),
    path("promotions/codes/<int:pk>/delete/", promotions_views.code_delete, name="promotion-code-delete"),
    path("tax-delivery/", settings_views.overview, name="tax-delivery"),
    path("tax-delivery/rates/add/", settings_views.tax_rate_add, name="tax-rate-add"),
    path("tax-delivery/rates/<int:pk>/", settings_views.tax_rate_edit, name="tax-rate-edit"),
    path("tax-delivery/rates/<int:pk>/delete/", settings_views.tax_rate_delete, name="tax-rate-delete"),
    path("tax-delivery/classes/add/", settings_views.tax_class_add, name="tax-class-add"),
    path("tax-delivery/zones/add/", settings_views.zone_add, name="zone-add"),
    path("tax-delivery/zones/<int:pk>/", settings_views.zone_edit, name="zone-edit"),
    path("tax-delivery/zones/<int:pk>/active/", settings_views.zone_active, name="zone-active"),
    path("tax-delivery/zones/<int:pk>/methods/add/", settings_views.method_add, name="method-add"),
    path("tax-delivery/methods/<int:pk>/", settings_views.method_edit, name="method-edit"),
    path("tax-delivery/methods/<int:pk>/active/", settings_views.method_active, name="method-active"),
]
