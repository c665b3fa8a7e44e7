from django.urls import path

from checkout import views
from shop import converters  # noqa: F401 (registers the path converters)

app_name = "checkout"

urlpatterns = [
    path("cart/", views.cart_detail, name="cart"),
    path("cart/add/", views.cart_add, name="cart-add"),
    path("cart/update/", views.cart_update, name="cart-update"),
    path("checkout/", views.checkout, name="checkout"),
    path("order/<order_token:token>/", views.order_detail, name="order-detail"),
    path("order/<order_token:token>/pay/", views.order_pay, name="order-pay"),
    path("order/<order_token:token>/pay/setup/", views.order_pay_setup, name="order-pay-setup"),
    path("order/<order_token:token>/pay/confirm/", views.order_pay_confirm, name="order-pay-confirm"),
    path("order/<order_token:token>/return/", views.order_return, name="order-return"),
    path("webhooks/stripe/", views.stripe_webhook, name="stripe-webhook"),
]
