"""Create the `bargaining-team` and `members` groups with the team's model permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

TEAM_GROUP = "bargaining-team"
MEMBERS_GROUP = "members"

# (app_label, model): actions. Team members edit the campaign; only admins delete demands or touch users.
TEAM_PERMISSIONS = {
    ("demands", "category"): ["view"],
    ("demands", "demand"): ["add", "change", "view", "transition"],
    ("demands", "statuschange"): ["view"],
    ("demands", "evidence"): ["add", "change", "view"],
    ("demands", "evidencelink"): ["add", "change", "delete", "view"],
    ("demands", "figure"): ["add", "change", "delete", "view"],
    ("demands", "resolution"): ["add", "change", "view"],
    ("demands", "resolutionclause"): ["add", "change", "view"],
    ("demands", "historicaldemand"): ["view"],
    ("demands", "historicalevidence"): ["view"],
    ("demands", "historicalevidencelink"): ["view"],
    ("demands", "historicalresolution"): ["view"],
    ("demands", "historicalresolutionclause"): ["view"],
    ("bargaining", "bargainingsession"): ["add", "change", "view"],
}


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    team, _ = Group.objects.get_or_create(name=TEAM_GROUP)
    Group.objects.get_or_create(name=MEMBERS_GROUP)
    for (app_label, model), actions in TEAM_PERMISSIONS.items():
        codenames = [f"{action}_{model}" for action in actions]
        permissions = Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        missing = set(codenames) - set(permissions.values_list("codename", flat=True))
        if missing:
            raise RuntimeError(f"Permissions not found for {app_label}.{model}: {sorted(missing)}")
        team.permissions.add(*permissions)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[TEAM_GROUP, MEMBERS_GROUP]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("bargaining", "0002_session_demands"),
        ("demands", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
