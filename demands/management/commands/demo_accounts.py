import secrets

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction

from demands.roles import MEMBERS_GROUP, TEAM_GROUP

ACCOUNTS = [
    # username, role shown, staff, superuser, group
    ("admin", "admin (Django admin)", True, True, None),
    ("team", "bargaining team", False, False, TEAM_GROUP),
    ("member", "member account", False, False, MEMBERS_GROUP),
]


class Command(BaseCommand):
    help = "Create or reset the demo accounts with fresh random passwords, and print them. For local demos only."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        self.stdout.write("Demo accounts (passwords are new on every run):")
        for username, role, staff, superuser, group in ACCOUNTS:
            user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.org"})
            password = secrets.token_urlsafe(9)
            user.set_password(password)
            user.is_staff, user.is_superuser = staff, superuser
            user.save()
            if group:
                user.groups.add(Group.objects.get(name=group))
            self.stdout.write(f"  {role:22} username: {username:8} password: {password}")
