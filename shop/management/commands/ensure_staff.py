"""Create (or update) the staff account a person signs in with, and print its login."""

import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Ensure a staff superuser exists with a known password, and print the login."

    def add_arguments(self, parser: CommandParser) -> None:
        # The shop's sign-in takes an e-mail address, so the username is one too.
        parser.add_argument("--email", default="admin@example.com")
        parser.add_argument(
            "--password-file",
            type=Path,
            help="Keep the password here: read it if the file exists, otherwise generate and write it.",
        )
        parser.add_argument("--password", help="Use this password (overrides --password-file).")
        parser.add_argument("--url", default="", help="Printed with the login, e.g. the admin URL.")

    def handle(self, *args: object, **options: object) -> None:
        password = options["password"] or self._password_from_file(options["password_file"])
        user_model = get_user_model()
        email = options["email"].strip().lower()
        user, created = user_model.objects.get_or_create(username=email, defaults={"email": email})
        user.is_staff = True
        user.is_superuser = True
        user.is_active = True
        user.set_password(password)
        user.save()
        where = f" at {options['url']}" if options["url"] else ""
        verb = "created" if created else "ready"
        self.stdout.write(self.style.SUCCESS(f"Staff login {verb}{where}: {user.username} / {password}"))

    @staticmethod
    def _password_from_file(path: Path | None) -> str:
        if path is not None and path.is_file():
            stored = path.read_text().strip()
            if stored:
                return stored
        password = secrets.token_urlsafe(12)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(password + "\n")
            path.chmod(0o600)
        return password
