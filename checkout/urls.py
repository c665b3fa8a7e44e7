from django.urls import path

from checkout import code_views, order_views, views
from shop import converters  # noqa: F401 (registers the path converters)

app_name = "checkout"

urlpatterns = [
    path("cart/", views.cart_detail, name="cart"),
    path("cart/add/", views.cart_add, name="cart-add"),
    path("cart/update/", views.cart_update, name="cart-update"),
    path("cart/code/", code_views.cart_code, name="cart-code"),
    path("checkout/", views.checkout, name="checkout"),
    path("checkout/totals/", views.checkout_totals, name="checkout-totals"),
    path("order/<order_token:token>/", order_views.order_detail, name="order-detail"),
    path("order/<order_token:token>/receipt/", order_views.order_receipt, name="order-receipt"),
    path("order/<order_token:token>/receipt.pdf", order_views.order_receipt_pdf, name="order-receipt-pdf"),
    path("order/<order_token:token>/pay/", order_views.order_pay, name="order-pay"),
    path("order/<order_token:token>/pay/setup/", order_views.order_pay_setup, name="order-pay-setup"),
    path("order/<order_token:token>/pay/confirm/", order_views.order_pay_confirm, name="order-pay-confirm"),
    path("order/<order_token:token>/return/", order_views.order_return, name="order-return"),
    path("webhooks/stripe/", order_views.stripe_webhook, name="stripe-webhook"),
]
