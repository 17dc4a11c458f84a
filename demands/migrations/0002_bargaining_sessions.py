"""Bargaining sessions move from `bargaining` to `demands`, rows, history and permissions included.

What happens at the table belongs beside the demands it moves: `StatusChange.session` then points
inside its own app, and `demands` no longer reaches into `bargaining`. Nothing is copied: the three
tables are renamed in place (same ids, same rows), the content types change app label so that
permissions, the team's grants on them and admin log entries follow, and the model state moves
without touching the database. `bargaining/0011` then drops the old model from its state only.
"""

import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models

# (model name in the state, table before, table after)
TABLES = [
    ("BargainingSession", "bargaining_bargainingsession", "demands_bargainingsession"),
    ("BargainingSession_demands", "bargaining_bargainingsession_demands", "demands_bargainingsession_demands"),
    ("HistoricalBargainingSession", "bargaining_historicalbargainingsession", "demands_historicalbargainingsession"),
]
CONTENT_TYPES = ["bargainingsession", "historicalbargainingsession"]


def _rename_tables(apps, schema_editor, *, forwards):
    for model_name, before, after in TABLES:
        # The state at this point still knows the models under `bargaining`; only the tables move.
        model = apps.get_model("bargaining", model_name)
        old, new = (before, after) if forwards else (after, before)
        schema_editor.alter_db_table(model, old, new)


def rename_tables(apps, schema_editor):
    _rename_tables(apps, schema_editor, forwards=True)


def rename_tables_back(apps, schema_editor):
    _rename_tables(apps, schema_editor, forwards=False)


def _move_content_types(apps, from_label, to_label):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in CONTENT_TYPES:
        moving = ContentType.objects.filter(app_label=from_label, model=model).first()
        if moving is None:
            continue
        # A content type under the new label can only be an empty one that post_migrate created after a
        # partial migrate; the moving one carries the grants and log entries, so it wins.
        ContentType.objects.filter(app_label=to_label, model=model).delete()
        moving.app_label = to_label
        moving.save(update_fields=["app_label"])


def move_content_types(apps, schema_editor):
    _move_content_types(apps, "bargaining", "demands")


def move_content_types_back(apps, schema_editor):
    _move_content_types(apps, "demands", "bargaining")


class Migration(migrations.Migration):

    dependencies = [
        ("demands", "0001_initial"),
        ("bargaining", "0009_session_history"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(rename_tables, rename_tables_back),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="BargainingSession",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("held_on", models.DateField(db_index=True)),
                        ("location", models.CharField(blank=True, max_length=200)),
                        ("kind", models.CharField(choices=[("table", "Main table"), ("subcommittee", "Subcommittee"), ("mediation", "Mediation"), ("caucus", "Team caucus")], default="table", max_length=16)),
                        ("team_notes", models.TextField(blank=True, help_text="Team-only.")),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("demands", models.ManyToManyField(blank=True, related_name="sessions", to="demands.demand")),
                    ],
                    options={
                        "ordering": ["-held_on", "-id"],
                    },
                ),
                migrations.AlterField(
                    model_name="statuschange",
                    name="session",
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="status_changes", to="demands.bargainingsession"),
                ),
                migrations.CreateModel(
                    name="HistoricalBargainingSession",
                    fields=[
                        ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                        ("held_on", models.DateField(db_index=True)),
                        ("location", models.CharField(blank=True, max_length=200)),
                        ("kind", models.CharField(choices=[("table", "Main table"), ("subcommittee", "Subcommittee"), ("mediation", "Mediation"), ("caucus", "Team caucus")], default="table", max_length=16)),
                        ("team_notes", models.TextField(blank=True, help_text="Team-only.")),
                        ("created_at", models.DateTimeField(blank=True, editable=False)),
                        ("history_id", models.AutoField(primary_key=True, serialize=False)),
                        ("history_date", models.DateTimeField(db_index=True)),
                        ("history_change_reason", models.CharField(max_length=100, null=True)),
                        ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
                        ("history_user", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        "verbose_name": "historical bargaining session",
                        "verbose_name_plural": "historical bargaining sessions",
                        "ordering": ("-history_date", "-history_id"),
                        "get_latest_by": ("history_date", "history_id"),
                    },
                    bases=(simple_history.models.HistoricalChanges, models.Model),
                ),
            ],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
