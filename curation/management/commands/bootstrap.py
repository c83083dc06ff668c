import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from core.roles import ADMIN, ANNOTATOR, ensure_roles
from curation.demo_data import load_demo_dataset

DEMO_USERS = (("demo-admin", ADMIN), ("demo-annotator", ANNOTATOR))


class Command(BaseCommand):
    help = "Create the annotator and admin groups; with --demo also demo users and the demo dataset."

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true", help="Create demo users and load the demo dataset")
        parser.add_argument("--reset-passwords", action="store_true",
                            help="Give existing demo users a new password (logs them out); otherwise theirs is kept")

    @transaction.atomic
    def handle(self, *args, demo=False, reset_passwords=False, **options):
        groups = ensure_roles()
        self.stdout.write(f"Roles ready: {', '.join(sorted(groups))}.")
        if not demo:
            return
        User = get_user_model()
        logins = []
        for username, role in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username,
                                                       defaults={"email": f"{username}@example.org"})
            password = self._password_for(user, created, reset_passwords)
            if password is not None:
                # A new hash logs the user out everywhere (and revokes their API tokens): only when asked or new.
                user.set_password(password)
            user.is_staff = role == ADMIN
            user.save()
            user.groups.set([groups[role]])
            logins.append((username, password, role))
        admin = User.objects.get(username="demo-admin")
        created, existing = load_demo_dataset(author=admin)
        self.stdout.write(f"Demo dataset: {created} examples created, {existing} already there.")
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Log in at http://127.0.0.1:8000/accounts/login/ as:"))
        for username, password, role in logins:
            shown = password or settings.DEMO_PASSWORD or "(unchanged: bootstrap --demo --reset-passwords for a new one)"
            self.stdout.write(f"  {role:<10} username: {username:<15} password: {shown}")

    @staticmethod
    def _password_for(user, created, reset):
        """The password to set, or None to keep the user's own. DEMO_PASSWORD fixes it; else a fresh random one, so
        that a demo login is never a known secret."""
        if settings.DEMO_PASSWORD:
            if created or reset or not user.check_password(settings.DEMO_PASSWORD):
                return settings.DEMO_PASSWORD
            return None
        if created or reset or not user.has_usable_password():
            return secrets.token_urlsafe(9)
        return None
