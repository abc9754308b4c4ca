"""``manage.py rundemo``: migrate, make a demo account, serve the site."""

import os

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate, create the demo account (demo / demo) and run the development server."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo")

    def handle(self, *args, addrport, username, password, **options):
        if os.environ.get("RUN_MAIN") == "true":  # runserver's autoreloader child: set up already
            call_command("runserver", addrport)
            return
        call_command("migrate", interactive=False, verbosity=0)
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True}
        )
        user.set_password(password)
        user.save()
        self.stdout.write(self.style.SUCCESS(
            f"Demo account: {username} / {password}  -> http://{addrport}/admin/ "
            f"and http://{addrport}/srv.asmx/AuthenticateUser?UID={username}&PWD={password}"
        ))
        call_command("runserver", addrport)
