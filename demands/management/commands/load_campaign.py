from django.core.management.base import BaseCommand

from demands.campaign import campaign_load


class Command(BaseCommand):
    help = "Load the union's campaign: categories, demands, the Board resolution and evidence. Safe to rerun."

    def handle(self, *args, **options) -> None:
        report = campaign_load()
        created = ", ".join(f"{count} {label}" for label, count in report.created.items() if count)
        self.stdout.write(self.style.SUCCESS(f"Created {created}.") if created else "Campaign already loaded.")
