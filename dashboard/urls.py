from django.urls import path

from dashboard import export, views
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
    path("stock/", views.stock_list, name="stock"),
    path("stock/<int:variant_id>/adjust/", views.stock_adjust, name="stock-adjust"),
    path("webhooks/<int:pk>/replay/", views.webhook_replay, name="webhook-replay"),
]
