from django.apps import AppConfig


class AiConfig(AppConfig):
    name = "ai"

    def ready(self) -> None:
        from ai import checks  # noqa: F401 (registers the deploy check)
