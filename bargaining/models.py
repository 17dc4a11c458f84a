"""The bargaining context: members and the digest ledger."""

import re

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_noop

# PostgreSQL cannot store NUL in text, and model fields (unlike form fields) do not check for it;
# the member service and the roster import refuse it with this message.
NUL_CHARACTERS = "Null characters are not allowed."


_LANGUAGE_TAG = re.compile(r"([a-z]{2,3})(?:-[a-z0-9]{1,8})*")


def language_key(text: str) -> str:
    """A language as a roster or a form may write it (` ES `, `es-MX`, `es_mx`) in the form `Member.language`
    stores: the primary subtag, lowercase (`es`). Anything that is no language tag comes back lowercased as it
    is; whether the site has the language is for the field's choices to say."""
    key = text.strip().lower().replace("_", "-")
    tag = _LANGUAGE_TAG.fullmatch(key)
    return tag[1] if tag else key


class Member(models.Model):
    """A union member who receives status digests by email; no account needed."""

    class Frequency(models.TextChoices):
        WEEKLY = "weekly", gettext_noop("Weekly")
        DAILY = "daily", gettext_noop("Daily")
        OFF = "off", gettext_noop("Off")

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Bounced"

    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    school = models.CharField(max_length=200, blank=True, help_text="School or unit.")
    # The site's languages (settings.LANGUAGES: en, es) are the only ones a member may have.
    language = models.CharField(
        max_length=16,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
        help_text="The language of the member's digests and links.",
    )
    frequency = models.CharField(max_length=8, choices=Frequency.choices, default=Frequency.WEEKLY)
    topics = models.ManyToManyField(
        "demands.Category", blank=True, related_name="subscribers", help_text="None means every category."
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    # db_default too: the roster import inserts members in SQL.
    link_generation = models.PositiveIntegerField(
        default=0,
        db_default=0,
        help_text="Signed into the member's links; bumping it (revoking) retires every link sent so far.",
    )

    class Meta:
        # Lower(email), not email: the unique index on Lower(email) serves this order (the admin's pages).
        ordering = [Lower("email")]
        # Plain indexes, not db_index: on PostgreSQL that adds a second, varchar_pattern_ops index per field
        # for LIKE queries nobody runs on these, which every roster import paid for (bench/README.md).
        indexes = [
            models.Index(fields=["frequency"], name="member_frequency"),
            models.Index(fields=["state"], name="member_state"),
        ]
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
    def digest_language(self) -> str:
        """The language of the member's digests and links: their `language`, always one of the site's."""
        return self.language

    @property
    def receives_digests(self) -> bool:
        return self.state == self.State.ACTIVE and self.frequency != self.Frequency.OFF

    @classmethod
    def mark_bounced(cls, member_id: int) -> int:
        """The one write of a bounce (the relay refused the address, or a provider reported it): an active
        member becomes bounced and is mailed no more until an admin fixes the address. Returns rows changed."""
        return cls.objects.filter(pk=member_id, state=cls.State.ACTIVE).update(
            state=cls.State.BOUNCED, updated_at=timezone.now()
        )


class DigestRun(models.Model):
    """One digest per frequency and period; its deliveries say who got what."""

    class State(models.TextChoices):
        PLANNING = "planning", "Planning"
        SENDING = "sending", "Sending"
        DONE = "done", "Done"

    frequency = models.CharField(max_length=8, choices=Member.Frequency.choices)
    period_start = models.DateField(
        help_text="The local day (daily) or the Monday of the local week (weekly) the run is planned in, "
        "in DIGEST_TIME_ZONE."
    )
    window_start = models.DateTimeField(
        help_text="Start of the window for members without an earlier digest: the previous period's first midnight."
    )
    window_end = models.DateTimeField(help_text="This period's first local midnight; every member's window ends here.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PLANNING, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period_start", "frequency"]
        constraints = [
            models.UniqueConstraint(fields=["frequency", "period_start"], name="digest_run_unique_period"),
        ]

    def __str__(self) -> str:
        return f"{self.get_frequency_display()} digest of {self.period_start:%Y-%m-%d}"


class DigestBody(models.Model):
    """A digest's subject, text and HTML exactly as sent, with placeholders for each member's links.

    Stored once per distinct rendering and shared by every delivery that got it, so `/digests/<token>/`
    shows what the member was sent even after their topics change or new changes land.
    """

    key = models.CharField(max_length=64, unique=True, help_text="SHA-256 of subject, text and HTML.")
    subject = models.CharField(max_length=255)
    text = models.TextField()
    html = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "digest body"

    def __str__(self) -> str:
        return self.subject


class Delivery(models.Model):
    """One member's digest in one run: the ledger row that makes sending exactly-once-or-recorded."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    class SkipReason(models.TextChoices):
        NOTHING_NEW = "nothing_new", "Nothing new"
        NOT_SUBSCRIBED = "not_subscribed", "No longer subscribed"

    # No index of their own: the unique (run, member) and the (member, state) indexes lead with them, and every
    # planned delivery (and every state change, none of them HOT) would update two more (bench/README.md).
    run = models.ForeignKey(DigestRun, on_delete=models.CASCADE, db_index=False, related_name="deliveries")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, db_index=False, related_name="deliveries")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    window_start = models.DateTimeField(help_text="This member's window starts where their previous digest ended.")
    # No index: nothing looks deliveries up by body, and every sent message would update one more.
    body = models.ForeignKey(
        DigestBody,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        related_name="deliveries",
        help_text="What was sent; empty until sent, and for digests sent before bodies were kept.",
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    skip_reason = models.CharField(max_length=16, choices=SkipReason.choices, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set explicitly on every state change (bulk updates bypass auto_now); the sweeper reads it.
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run_id", "id"]  # by column: ordering by "run" would join (and lock) runs
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["run", "member"], name="delivery_unique_run_member"),
        ]
        indexes = [
            models.Index(fields=["state", "updated_at"], name="delivery_state_updated"),
            models.Index(fields=["member", "state"], name="delivery_member_state"),
        ]

    def __str__(self) -> str:
        return f"{self.run} → {self.member}"


class DigestSending(models.Model):
    """The kill switch: one row (pk 1) saying whether digest batches may send now.

    No row means sending is on. Batches read it when they start and between messages, so a pause stops a
    run after the message in flight; the rows not sent stay pending, their attempts unspent.
    """

    SINGLETON = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON, editable=False)
    paused = models.BooleanField(default=False)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty when paused from the command line (send_digests --pause).",
    )
    resumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "digest sending"
        verbose_name_plural = "digest sending"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="digest_sending_single_row")]

    def __str__(self) -> str:
        return "Digest sending paused" if self.paused else "Digest sending on"

    @classmethod
    def is_paused(cls) -> bool:
        return cls.objects.filter(pk=cls.SINGLETON, paused=True).exists()
