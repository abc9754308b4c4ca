"""``manage.py rundemo [ADDR:]PORT``: migrate, make a demo account, serve the site.

``ADDR:PORT`` is runserver's: ``8002``, ``0.0.0.0:8002``, ``[::1]:8002``;
the default is ``127.0.0.1:8000``.
"""

import os

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Migrate, create the demo account (demo / demo) and run the development server."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000",
                            help="[ADDR:]PORT as for runserver (default 127.0.0.1:8000)")
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
        base = site_url(addrport)
        self.stdout.write(self.style.SUCCESS(
            f"Demo account: {username} / {password}  -> {base}/admin/ "
            f"and {base}/srv.asmx/AuthenticateUser?UID={username}&PWD={password}"
        ))
        call_command("runserver", addrport)


def site_url(addrport: str) -> str:
    """The URL a browser on this machine uses for runserver's ``[ADDR:]PORT``."""
    addr, _, port = addrport.rpartition(":")
    addr = addr.strip("[]")
    if addr in ("", "0", "0.0.0.0", "::"):  # all interfaces, or runserver's default
        addr = "127.0.0.1"
    return f"http://[{addr}]:{port}" if ":" in addr else f"http://{addr}:{port}"
