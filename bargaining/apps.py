from django.apps import AppConfig


class BargainingConfig(AppConfig):
    name = "bargaining"
    verbose_name = "Bargaining"

    def ready(self) -> None:
        from . import webhooks  # noqa: F401  connects the email service's tracking reports
        from .digests import periods  # noqa: F401  registers the DIGEST_TIME_ZONE check
