from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        # Imported for what they register: the deploy checks, the OpenAPI auth extension.
        from accounts import checks, schema  # noqa: F401
