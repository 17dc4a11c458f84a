"""The bargaining context: sessions at the table (members and digests build on it)."""

from django.db import models


class BargainingSession(models.Model):
    """A meeting with the Board's negotiators where demands were discussed."""

    class Kind(models.TextChoices):
        TABLE = "table", "Main table"
        SUBCOMMITTEE = "subcommittee", "Subcommittee"
        MEDIATION = "mediation", "Mediation"
        CAUCUS = "caucus", "Team caucus"

    held_on = models.DateField(db_index=True)
    location = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TABLE)
    demands = models.ManyToManyField("demands.Demand", blank=True, related_name="sessions")
    team_notes = models.TextField(blank=True, help_text="Team-only.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-held_on", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}, {self.held_on:%Y-%m-%d}"
