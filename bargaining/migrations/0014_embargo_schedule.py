"""Embargoed status changes are published by beat each minute: a django-celery-beat row admins can see."""

from django.db import migrations
from django.utils import timezone

EMBARGOES = "Publish embargoed changes"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=EMBARGOES,
        defaults={
            "task": "bargaining.tasks.publish_embargoed",
            "interval": every_minute,
            "description": "Publishes held status changes whose embargo has passed.",
        },
    )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=EMBARGOES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("bargaining", "0013_member_link_generation"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
