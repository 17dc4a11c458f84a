"""The digest schedule as django-celery-beat rows, so admins can change it without a deploy."""

import json

from django.db import migrations
from django.utils import timezone

CHICAGO = "America/Chicago"
WEEKLY = "Weekly member digest"
DAILY = "Daily member digest"
SWEEPER = "Digest sweeper"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")

    monday_seven, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="7", day_of_week="1", day_of_month="*", month_of_year="*", timezone=CHICAGO
    )
    every_day_seven, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="7", day_of_week="*", day_of_month="*", month_of_year="*", timezone=CHICAGO
    )
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=WEEKLY,
        defaults={
            "task": "bargaining.tasks.plan_digest",
            "crontab": monday_seven,
            "kwargs": json.dumps({"frequency": "weekly"}),
            "description": "Plans and sends the weekly digest (Monday 07:00 Chicago).",
        },
    )
    PeriodicTask.objects.get_or_create(
        name=DAILY,
        defaults={
            "task": "bargaining.tasks.plan_digest",
            "crontab": every_day_seven,
            "kwargs": json.dumps({"frequency": "daily"}),
            "description": "Plans and sends the daily digest (07:00 Chicago).",
        },
    )
    PeriodicTask.objects.get_or_create(
        name=SWEEPER,
        defaults={
            "task": "bargaining.tasks.sweep_stuck_deliveries",
            "interval": every_minute,
            "description": "Re-enqueues deliveries stuck in pending or sending; closes finished runs.",
        },
    )
    # Tell a running beat (DatabaseScheduler) that its schedule changed.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[WEEKLY, DAILY, SWEEPER]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("bargaining", "0007_digest_ledger"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
