from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _roles_after_migrate(sender, **kwargs) -> None:
    """Keep the staff roles' groups holding their permissions as models come and go."""
    from accounts.roles import roles_ensure

    roles_ensure()


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # After every app's permissions exist (they are made after migrating, app by app).
        post_migrate.connect(_roles_after_migrate, dispatch_uid="accounts-roles")
