from django.templatetags.static import static
from django.urls import path
from django.utils.functional import lazy
from django.views.decorators.http import require_safe
from django.views.generic import RedirectView

from shop import views

app_name = "shop"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name no icon. Not permanent: the icon's
    # URL carries its content hash in production and changes with it.
    path(
        "favicon.ico",
        require_safe(RedirectView.as_view(url=lazy(static, str)("img/favicon.svg"))),
        name="favicon",
    ),
]
