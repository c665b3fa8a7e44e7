"""`manage.py ensure_staff`, run by every `make run`: the staff login, without signing staff out."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

EMAIL = "admin@example.com"


def ensure_staff(password_file, *args: str) -> str:
    out = StringIO()
    call_command(
        "ensure_staff",
        "--password-file",
        str(password_file),
        "--url",
        "http://shop/admin/",
        *args,
        stdout=out,
    )
    return out.getvalue()


@pytest.mark.django_db
def test_the_first_run_creates_the_account_with_a_kept_password(tmp_path):
    password_file = tmp_path / "staff-password"
    output = ensure_staff(password_file)
    password = password_file.read_text().strip()
    user = get_user_model().objects.get(username=EMAIL)
    assert user.is_staff and user.is_superuser and user.is_active
    assert user.check_password(password)
    assert output.strip() == f"Staff login created at http://shop/admin/: {EMAIL} / {password}"
    assert oct(password_file.stat().st_mode & 0o777) == "0o600"


@pytest.mark.django_db
def test_a_later_run_keeps_the_password_hash_so_staff_stay_signed_in(tmp_path, client):
    password_file = tmp_path / "staff-password"
    ensure_staff(password_file)
    password = password_file.read_text().strip()
    assert client.login(username=EMAIL, password=password)
    hash_before = get_user_model().objects.get(username=EMAIL).password
    output = ensure_staff(password_file)
    assert get_user_model().objects.get(username=EMAIL).password == hash_before
    assert output.strip() == f"Staff login at http://shop/admin/: {EMAIL} / {password}"
    # The session made before the second run still works.
    response = client.get("/admin/")
    assert response.status_code == 200
    assert "Site administration" in response.content.decode()


@pytest.mark.django_db
def test_reset_password_sets_the_kept_password_again(tmp_path):
    password_file = tmp_path / "staff-password"
    ensure_staff(password_file)
    password = password_file.read_text().strip()
    user = get_user_model().objects.get(username=EMAIL)
    user.set_password("changed by hand in the admin")
    user.save()
    warning = ensure_staff(password_file)
    assert "its password was changed and is not the one kept here" in warning
    assert "make run ARGS=--reset-staff-password" in warning
    assert password not in warning
    output = ensure_staff(password_file, "--reset-password")
    user.refresh_from_db()
    assert user.check_password(password)
    assert output.strip() == f"Staff login reset at http://shop/admin/: {EMAIL} / {password}"


@pytest.mark.django_db
def test_an_account_whose_password_was_never_kept_here_is_left_alone(tmp_path):
    get_user_model().objects.create_user(username=EMAIL, email=EMAIL, password="set elsewhere")
    password_file = tmp_path / "staff-password"
    output = ensure_staff(password_file)
    user = get_user_model().objects.get(username=EMAIL)
    assert user.check_password("set elsewhere") and user.is_staff
    assert not password_file.exists()
    assert "make run ARGS=--reset-staff-password" in output
