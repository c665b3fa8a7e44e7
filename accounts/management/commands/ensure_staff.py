"""Create the staff account a person signs in with, and print its login.

The password is set when the account is created, or when asked (`--reset-password`,
`--password`); otherwise it is left alone, because setting it again (even to the same
password) makes a new hash and so signs the staff member out everywhere.
"""

import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

RESET_HINT = "make run ARGS=--reset-staff-password"


class Command(BaseCommand):
    help = "Ensure a staff superuser exists, set its password when new or asked, and print the login."

    def add_arguments(self, parser: CommandParser) -> None:
        # The shop's sign-in takes an e-mail address, so the username is one too.
        parser.add_argument("--email", default="admin@example.com")
        parser.add_argument(
            "--password-file",
            type=Path,
            help="Keep the password here: read it if the file exists, otherwise generate and write it.",
        )
        parser.add_argument("--password", help="Set this password (overrides --password-file).")
        parser.add_argument(
            "--reset-password",
            action="store_true",
            help="Set the password of an existing account again (to the kept one, or a new one).",
        )
        parser.add_argument("--url", default="", help="Printed with the login, e.g. the admin URL.")

    def handle(self, *args: object, **options: object) -> None:
        user_model = get_user_model()
        email = options["email"].strip().lower()
        user, created = user_model.objects.get_or_create(username=email, defaults={"email": email})
        should_set = created or options["reset_password"] or bool(options["password"])
        where = f" at {options['url']}" if options["url"] else ""
        if should_set:
            password = options["password"] or self._password_from_file(options["password_file"])
            user.set_password(password)
        user.is_staff = user.is_superuser = user.is_active = True
        user.save()
        if should_set:
            verb = "created" if created else "reset"
            self.stdout.write(self.style.SUCCESS(f"Staff login {verb}{where}: {user.username} / {password}"))
            return
        kept = self._kept_password(options["password_file"])
        if kept and user.check_password(kept):
            self.stdout.write(self.style.SUCCESS(f"Staff login{where}: {user.username} / {kept}"))
            return
        self.stdout.write(
            self.style.WARNING(
                f"Staff login{where}: {user.username} (its password was changed and is not the one "
                f"kept here; to set it to a known one: {RESET_HINT})"
            )
        )

    @staticmethod
    def _kept_password(path: Path | None) -> str:
        if path is not None and path.is_file():
            return path.read_text().strip()
        return ""

    @classmethod
    def _password_from_file(cls, path: Path | None) -> str:
        if stored := cls._kept_password(path):
            return stored
        password = secrets.token_urlsafe(12)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(password + "\n")
            path.chmod(0o600)
        return password
