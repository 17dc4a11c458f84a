"""A member's frequency and state keep one plain index each; the second index PostgreSQL got for each
(varchar_pattern_ops, for LIKE, which no query runs on them) goes: every roster import paid for it."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("bargaining", "0016_member_language_en_or_es"),
    ]

    operations = [
        migrations.AlterField(
            model_name="member",
            name="frequency",
            field=models.CharField(
                choices=[("weekly", "Weekly"), ("daily", "Daily"), ("off", "Off")], default="weekly", max_length=8
            ),
        ),
        migrations.AlterField(
            model_name="member",
            name="state",
            field=models.CharField(
                choices=[("active", "Active"), ("unsubscribed", "Unsubscribed"), ("bounced", "Bounced")],
                default="active",
                max_length=16,
            ),
        ),
        migrations.AddIndex(
            model_name="member",
            index=models.Index(fields=["frequency"], name="member_frequency"),
        ),
        migrations.AddIndex(
            model_name="member",
            index=models.Index(fields=["state"], name="member_state"),
        ),
    ]
