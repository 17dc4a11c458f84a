"""Every write to a member goes through these functions (the roster import, in bulk, is in `roster`), and
the digest kill switch's two writes."""

import datetime
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Lower
from django.utils import timezone

from demands.errors import ValidationFailed
from demands.models import Category

from .models import NUL_CHARACTERS, Delivery, DigestSending, Member, language_key

EDITABLE_FIELDS = frozenset({"email", "name", "school", "language", "frequency", "state", "topics"})
DUPLICATE_EMAIL = "A member with this email address already exists (case does not matter)."


def _normalize(member: Member) -> None:
    member.email = member.email.strip()
    member.name = member.name.strip()
    member.school = member.school.strip()
    member.language = language_key(member.language)


def _email_taken(email: str, *, exclude_id: int | None = None) -> bool:
    others = Member.objects.alias(email_lower=Lower("email")).filter(email_lower=Lower(Value(email)))
    return others.exclude(pk=exclude_id).exists() if exclude_id else others.exists()


def _validate(member: Member) -> None:
    """The model's field rules and an email unique whatever its case, with the message on `email`."""
    errors: dict[str, list[str]] = {}
    try:
        member.full_clean(validate_constraints=False)
    except ValidationError as exc:
        errors = exc.message_dict
    for name in ("email", "name", "school", "language"):
        if "\x00" in getattr(member, name):
            errors.setdefault(name, []).append(NUL_CHARACTERS)
    if "email" not in errors and _email_taken(member.email, exclude_id=member.pk):
        errors["email"] = [DUPLICATE_EMAIL]
    if errors:
        raise ValidationFailed(errors)


def _save(member: Member, topics: Iterable[Category | int] | None) -> None:
    try:
        with transaction.atomic():
            member.save()
            if topics is not None:
                member.topics.set(topics)
    except IntegrityError as exc:
        # Only the email constraint can fail here: someone added the same address meanwhile.
        raise ValidationFailed({"email": [DUPLICATE_EMAIL]}) from exc


def member_create(
    *,
    email: str,
    name: str = "",
    school: str = "",
    language: str = "en",
    frequency: str = Member.Frequency.WEEKLY,
    topics: Iterable[Category | int] = (),
) -> Member:
    """Add an active member; the email must not be on the roster already, in any case."""
    member = Member(email=email, name=name, school=school, language=language, frequency=frequency)
    _normalize(member)
    _validate(member)
    _save(member, topics)
    return member


def member_update(*, member_id: int, **data: Any) -> Member:
    """Change a member's fields; moving into or out of `unsubscribed` keeps `unsubscribed_at` right, and a
    bounced member whose address is changed becomes active again."""
    unknown = sorted(set(data) - EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed({name: ["This field cannot be edited."] for name in unknown})
    topics = data.pop("topics", None)
    with transaction.atomic():
        member = Member.objects.select_for_update().get(pk=member_id)
        was_unsubscribed = member.state == Member.State.UNSUBSCRIBED
        old_email = member.email
        for name, value in data.items():
            setattr(member, name, value)
        _normalize(member)
        if member.state == Member.State.BOUNCED and member.email.lower() != old_email.lower() and "state" not in data:
            # A corrected address is worth mailing again.
            member.state = Member.State.ACTIVE
        is_unsubscribed = member.state == Member.State.UNSUBSCRIBED
        if is_unsubscribed and not was_unsubscribed:
            member.unsubscribed_at = timezone.now()
        elif was_unsubscribed and not is_unsubscribed:
            member.unsubscribed_at = None
        _validate(member)
        _save(member, topics)
    return member


def member_unsubscribe(*, member_id: int) -> Member:
    """Stop every digest to the member. Idempotent: a second call keeps the first `unsubscribed_at`.

    Raises Member.DoesNotExist for an unknown id.
    """
    now = timezone.now()
    Member.objects.filter(pk=member_id).exclude(state=Member.State.UNSUBSCRIBED).update(
        state=Member.State.UNSUBSCRIBED, unsubscribed_at=now, updated_at=now
    )
    return Member.objects.get(pk=member_id)


def member_revoke_links(*, member_id: int) -> Member:
    """Retire every link sent to the member so far (preferences, digests, unsubscribe); links made from
    now on work. For a forwarded email or a leaked link.

    Raises Member.DoesNotExist for an unknown id.
    """
    Member.objects.filter(pk=member_id).update(link_generation=F("link_generation") + 1, updated_at=timezone.now())
    return Member.objects.get(pk=member_id)


def member_set_preferences(
    *,
    member_id: int,
    frequency: str,
    topics: Iterable[Category | int],
    resubscribe: bool = False,
    language: str | None = None,
) -> Member:
    """Set how often, about what (no topics: every category) and in which language (of LANGUAGES) a member hears.

    `resubscribe` turns digests back on for a member who unsubscribed; a bounced address stays
    bounced until an admin fixes it.
    """
    if frequency not in Member.Frequency.values:
        raise ValidationFailed({"frequency": [f"“{frequency}” is not one of {', '.join(Member.Frequency.values)}."]})
    if language is not None and language not in dict(settings.LANGUAGES):
        known = ", ".join(dict(settings.LANGUAGES))
        raise ValidationFailed({"language": [f"“{language}” is not one of the site's languages ({known})."]})
    topic_ids = {topic.pk if isinstance(topic, Category) else int(topic) for topic in topics}
    unknown = topic_ids - set(Category.objects.filter(pk__in=topic_ids).values_list("pk", flat=True))
    if unknown:
        raise ValidationFailed({"topics": [f"No category has id {', '.join(map(str, sorted(unknown)))}."]})
    with transaction.atomic():
        member = Member.objects.select_for_update().get(pk=member_id)
        member.frequency = frequency
        if language is not None:
            member.language = language
        if resubscribe and member.state == Member.State.UNSUBSCRIBED:
            member.state = Member.State.ACTIVE
            member.unsubscribed_at = None
        member.save(update_fields=["frequency", "language", "state", "unsubscribed_at", "updated_at"])
        member.topics.set(topic_ids)
    return member


def _member_id_by_email(email: str) -> int | None:
    return (
        Member.objects.alias(email_lower=Lower("email"))
        .filter(email_lower=Lower(Value(email.strip())))
        .values_list("pk", flat=True)
        .first()
    )


def member_bounce_by_email(*, email: str) -> bool:
    """An email service reports the address dead: the member is bounced. Idempotent; False if nothing changed."""
    member_id = _member_id_by_email(email)
    return bool(member_id and Member.mark_bounced(member_id))


def member_unsubscribe_by_email(*, email: str) -> bool:
    """The member complained of spam or unsubscribed at the email service. Idempotent; False for no member."""
    member_id = _member_id_by_email(email)
    if member_id is None:
        return False
    member_unsubscribe(member_id=member_id)
    return True


def digest_sending_pause(*, by_id: int | None = None) -> bool:
    """Pause digest sending: batches stop after the message in flight. Returns False if it was paused already
    (the first pause's time and author are kept)."""
    with transaction.atomic():
        switch, _ = DigestSending.objects.select_for_update().get_or_create(pk=DigestSending.SINGLETON)
        if switch.paused:
            return False
        switch.paused, switch.paused_at, switch.paused_by_id = True, timezone.now(), by_id
        switch.save()
    return True


def digest_sending_resume() -> int | None:
    """Let digest batches send again, and hand every pending delivery to the sweeper at once (as if the broker
    had lost it), so the next sweep enqueues it and paused runs complete. Returns how many were pending, None if
    sending was not paused (nothing done)."""
    now = timezone.now()
    with transaction.atomic():
        switch = DigestSending.objects.select_for_update().filter(pk=DigestSending.SINGLETON).first()
        if switch is None or not switch.paused:
            return None
        switch.paused, switch.resumed_at = False, now
        switch.save()
        due = now - datetime.timedelta(seconds=settings.DIGEST_PENDING_STUCK_AFTER)
        return Delivery.objects.filter(state=Delivery.State.PENDING).update(updated_at=due)
