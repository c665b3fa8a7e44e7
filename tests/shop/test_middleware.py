"""The async-native middleware: same headers and behaviour as Django's, no thread hops, still checked."""

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, override_settings

from shop.checks import check_security_middleware


@pytest.mark.django_db(transaction=True)
def test_async_stack_sets_the_security_headers_and_a_csrf_cookie():
    response = async_to_sync(AsyncClient().get)("/account/login/")
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "csrftoken" in response.cookies


@pytest.mark.django_db(transaction=True)
def test_async_stack_refuses_a_post_without_csrf_token():
    client = AsyncClient(enforce_csrf_checks=True)
    response = async_to_sync(client.post)("/cart/add/", {"variant": "1", "quantity": "1"})
    assert response.status_code == 403


def test_deploy_check_passes_with_the_shop_middleware():
    assert check_security_middleware(None) == []


def test_deploy_check_warns_when_security_middleware_is_missing(settings):
    settings.MIDDLEWARE = [path for path in settings.MIDDLEWARE if not path.endswith("SecurityMiddleware")]
    assert [warning.id for warning in check_security_middleware(None)] == ["shop.W001"]


def test_deploy_check_accepts_djangos_own_classes():
    with override_settings(
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ]
    ):
        assert check_security_middleware(None) == []


def test_djangos_middleware_dependent_checks_still_run_against_the_subclasses(settings):
    from shop.checks import check_security_settings

    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    assert check_security_settings(None) == []
    settings.SECURE_SSL_REDIRECT = False
    settings.CSRF_COOKIE_SECURE = False
    settings.X_FRAME_OPTIONS = "SAMEORIGIN"
    assert sorted(message.id for message in check_security_settings(None)) == [
        "security.W008",
        "security.W016",
        "security.W019",
    ]
