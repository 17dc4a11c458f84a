from django.apps import AppConfig


class BargainingConfig(AppConfig):
    name = "bargaining"
    verbose_name = "Bargaining"

    def ready(self) -> None:
        from .digests import periods  # noqa: F401  registers the DIGEST_TIME_ZONE check
