"""System checks for the shop's own settings."""

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from shop.ratelimit import rate_parse

RATE_LIMIT_SETTINGS = ("RATE_LIMIT_LOGIN", "RATE_LIMIT_PASSWORD_RESET", "RATE_LIMIT_PLACE_ORDER")


@register()
def check_rate_limits(app_configs, **kwargs) -> list[Error]:
    """Return an error for each rate limit setting that cannot be read."""
    errors = []
    for name in RATE_LIMIT_SETTINGS:
        try:
            rate_parse(getattr(settings, name))
        except ImproperlyConfigured as error:
            errors.append(Error(f"{name}: {error}", id="shop.E001"))
    return errors


# Django's deploy checks security.W001-W003 look for Django's own middleware paths in
# MIDDLEWARE; the shop runs async-native subclasses of them (shop/middleware.py), so
# those three are silenced in settings and checked here by class instead.
_REQUIRED_MIDDLEWARE = {
    "django.middleware.security.SecurityMiddleware": "shop.W001",
    "django.middleware.clickjacking.XFrameOptionsMiddleware": "shop.W002",
    "django.middleware.csrf.CsrfViewMiddleware": "shop.W003",
}


@register(deploy=True)
def check_security_middleware(app_configs, **kwargs) -> list[Warning]:
    """Return a warning for each security middleware missing from MIDDLEWARE (or a subclass of it)."""
    installed = []
    for path in settings.MIDDLEWARE:
        candidate = import_string(path)
        if isinstance(candidate, type):
            installed.append(candidate)
    warnings = []
    for path, check_id in _REQUIRED_MIDDLEWARE.items():
        required = import_string(path)
        if not any(issubclass(candidate, required) for candidate in installed):
            warnings.append(Warning(f"MIDDLEWARE has no {path} (nor a subclass of it).", id=check_id))
    return warnings
