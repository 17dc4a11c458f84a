"""Members' language is en or es: Spanish variants (es-mx, es_US, ...) become es, anything else en, as their
digests already were. Backwards nothing is undone (the old codes are not kept anywhere)."""

from django.db import migrations, models
from django.db.models import Q


def to_site_languages(apps, schema_editor):
    Member = apps.get_model("bargaining", "Member")
    spanish = Q(language__iexact="es") | Q(language__istartswith="es-") | Q(language__istartswith="es_")
    Member.objects.filter(spanish).exclude(language="es").update(language="es")
    Member.objects.exclude(language__in=["en", "es"]).update(language="en")


class Migration(migrations.Migration):
    dependencies = [
        ("bargaining", "0015_digest_sending_pause"),
    ]

    operations = [
        migrations.AlterField(
            model_name="member",
            name="language",
            field=models.CharField(
                choices=[("en", "English"), ("es", "Español")],
                default="en",
                help_text="The language of the member's digests and links.",
                max_length=16,
            ),
        ),
        migrations.RunPython(to_site_languages, migrations.RunPython.noop, elidable=True),
    ]
