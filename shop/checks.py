"""System checks for the shop's own settings."""

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.test.utils import override_settings
from django.utils.module_loading import import_string

from shop.ratelimit import rate_parse

RATE_LIMIT_SETTINGS = (
    "RATE_LIMIT_LOGIN",
    "RATE_LIMIT_PASSWORD_RESET",
    "RATE_LIMIT_PLACE_ORDER",
    "RATE_LIMIT_SIGNUP",
    "RATE_LIMIT_DISCOUNT_CODE",
)


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


# Django's security checks look for its own middleware by path in MIDDLEWARE; the shop
# runs async-native subclasses of them (shop/middleware.py). So security.W001-W003
# ("no such middleware") are silenced in settings and checked here by class, and the
# checks that depend on finding the middleware (HSTS, SSL redirect, nosniff, referrer
# and opener policies, X-Frame-Options DENY, secure CSRF cookie, CSP) are run again here
# with Django's paths standing for the subclasses, keeping their own ids.
_DJANGO_MIDDLEWARE = {
    "django.middleware.security.SecurityMiddleware": "shop.W001",
    "django.middleware.clickjacking.XFrameOptionsMiddleware": "shop.W002",
    "django.middleware.csrf.CsrfViewMiddleware": "shop.W003",
    "django.middleware.csp.ContentSecurityPolicyMiddleware": None,
}


def _as_django_paths(middleware: list[str]) -> list[str]:
    """Return `middleware` with each subclass of a Django security middleware named by Django's path."""
    named = []
    for path in middleware:
        candidate = import_string(path)
        for django_path in _DJANGO_MIDDLEWARE:
            if isinstance(candidate, type) and issubclass(candidate, import_string(django_path)):
                path = django_path
                break
        named.append(path)
    return named


@register(Tags.security, deploy=True)
def check_security_middleware(app_configs, **kwargs) -> list[CheckMessage]:
    """Return a warning for each security middleware missing from MIDDLEWARE (or a subclass of it)."""
    named = _as_django_paths(settings.MIDDLEWARE)
    return [
        Warning(f"MIDDLEWARE has no {path} (nor a subclass of it).", id=check_id)
        for path, check_id in _DJANGO_MIDDLEWARE.items()
        if check_id and path not in named
    ]


@register(Tags.security, deploy=True)
def check_security_settings(app_configs, **kwargs) -> list[CheckMessage]:
    """Return what Django's middleware-dependent security checks find, run against the subclasses."""
    from django.core.checks.security import base, csrf

    dependent = [
        base.check_sts,
        base.check_sts_include_subdomains,
        base.check_sts_preload,
        base.check_content_type_nosniff,
        base.check_ssl_redirect,
        base.check_xframe_deny,
        base.check_referrer_policy,
        base.check_cross_origin_opener_policy,
        base.check_csp_settings,
        base.check_csp_nonce_context_processor,
        csrf.check_csrf_cookie_secure,
    ]
    named = _as_django_paths(settings.MIDDLEWARE)
    if named == list(settings.MIDDLEWARE):
        return []  # Django's own run of these checks already saw the middleware
    with override_settings(MIDDLEWARE=named):
        return [message for check in dependent for message in check(app_configs)]
