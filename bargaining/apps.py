from django.apps import AppConfig


class BargainingConfig(AppConfig):
    name = "bargaining"
    verbose_name = "Bargaining"
