"""Bargaining sessions now live in `demands` (see demands/0002): forget them here, in the state only.

demands/0002 has already renamed the tables and moved the content types, so the database keeps
every row; this only removes the old model from `bargaining`'s migration state.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("bargaining", "0010_digest_body"),
        ("demands", "0002_bargaining_sessions"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="HistoricalBargainingSession"),
                migrations.DeleteModel(name="BargainingSession"),
            ],
        ),
    ]
