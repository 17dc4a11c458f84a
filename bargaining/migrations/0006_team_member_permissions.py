"""Let the bargaining team look members up; only admins add, change, import or export them.

Member rosters are personal data. The team needs to answer "is this colleague subscribed,
and to what?", so it gets `view_member`. Adding, changing, deleting, importing and exporting
members stays with admins (Django staff granted those permissions, or superusers).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

TEAM_GROUP = "bargaining-team"


def grant_view(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure this one exists now.
    app_config = apps.get_app_config("bargaining")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    team, _ = Group.objects.get_or_create(name=TEAM_GROUP)
    team.permissions.add(Permission.objects.get(content_type__app_label="bargaining", codename="view_member"))


def revoke_view(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    team = Group.objects.filter(name=TEAM_GROUP).first()
    if team is not None:
        team.permissions.remove(*Permission.objects.filter(content_type__app_label="bargaining", codename="view_member"))


class Migration(migrations.Migration):
    dependencies = [
        ("bargaining", "0005_member_email_and_language_rules"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant_view, revoke_view)]
