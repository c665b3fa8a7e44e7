"""System checks for the shop's own settings."""

from django.conf import settings
from django.core.checks import Warning, register
from django.utils.module_loading import import_string

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
