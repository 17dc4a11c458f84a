"""The bargaining context: sessions at the table (members and digests build on it)."""

from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower


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


class Member(models.Model):
    """A union member who receives status digests by email; no account needed."""

    class Frequency(models.TextChoices):
        WEEKLY = "weekly", "Weekly"
        DAILY = "daily", "Daily"
        OFF = "off", "Off"

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Bounced"

    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    school = models.CharField(max_length=200, blank=True, help_text="School or unit.")
    language = models.CharField(
        max_length=16,
        default="en",
        help_text="Language code, e.g. en or es.",
        validators=[
            RegexValidator(
                r"^[a-z]{2,3}(-[a-z0-9]{2,8})*\Z", "Enter a lowercase language code such as en, es or zh-hant."
            )
        ],
    )
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default=Frequency.WEEKLY, db_index=True)
    topics = models.ManyToManyField(
        "demands.Category", blank=True, related_name="subscribers", help_text="None means every category."
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="member_unique_email_ci",
                violation_error_message="A member with this email address already exists (case does not matter).",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def receives_digests(self) -> bool:
        return self.state == self.State.ACTIVE and self.frequency != self.Frequency.OFF
