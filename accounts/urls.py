from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import views

# Django's class-based views answer OPTIONS themselves; the shop's pages serve only these.
page_and_form = require_http_methods(["GET", "HEAD", "POST"])

app_name = "account"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", page_and_form(views.LoginView.as_view()), name="login"),
    path("logout/", require_POST(views.LogoutView.as_view()), name="logout"),
    path("signup/", page_and_form(views.SignupView.as_view()), name="signup"),
    path("addresses/add/", views.address_add, name="address-add"),
    path("addresses/<int:pk>/edit/", views.address_edit, name="address-edit"),
    path("addresses/<int:pk>/delete/", views.address_delete, name="address-delete"),
    path("addresses/<int:pk>/default/", views.address_default, name="address-default"),
    path("password/change/", page_and_form(views.PasswordChangeView.as_view()), name="password-change"),
    path(
        "password/change/done/",
        require_safe(views.PasswordChangeDoneView.as_view()),
        name="password-change-done",
    ),
    path("password/reset/", page_and_form(views.PasswordResetView.as_view()), name="password-reset"),
    path(
        "password/reset/sent/",
        require_safe(views.PasswordResetDoneView.as_view()),
        name="password-reset-done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        page_and_form(views.PasswordResetConfirmView.as_view()),
        name="password-reset-confirm",
    ),
    path(
        "password/reset/complete/",
        require_safe(views.PasswordResetCompleteView.as_view()),
        name="password-reset-complete",
    ),
]
