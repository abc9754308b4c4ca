"""``manage.py rundemo [ADDR:]PORT``: migrate, make a demo account, serve the site.

``ADDR:PORT`` is runserver's: ``8002``, ``0.0.0.0:8002``, ``[::1]:8002``;
the default is ``127.0.0.1:8000``.
"""

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Migrate, create the demo account once (demo / demo on the embedded SQLite "
            "database) and run the development server.")

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000",
                            help="[ADDR:]PORT as for runserver (default 127.0.0.1:8000)")
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default=None,
                            help="Password of a new demo account (default: 'demo' on the "
                                 "embedded SQLite database, else a random one, shown once). "
                                 "An existing account is never changed.")

    def handle(self, *args, addrport, username, password, **options):
        if os.environ.get("RUN_MAIN") == "true":  # runserver's autoreloader child: set up already
            self._serve(addrport)
            return
        call_command("migrate", interactive=False, verbosity=0)
        self._demo_account(addrport, username, password)
        self._serve(addrport)

    def _demo_account(self, addrport, username, password):
        """Create the account once; never reset an existing one behind its owner's back."""
        users = get_user_model().objects
        if users.filter(username=username).exists():
            self.stdout.write(
                f"Demo account {username!r} exists; its password is left as it is "
                f"(manage.py changepassword {username} changes it)  -> {site_url(addrport)}/"
            )
            return
        if password is None:
            # A well-known password only where the database is the demo's own file.
            embedded = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") and not (
                os.environ.get("DATABASE_URL"))
            password = "demo" if embedded else secrets.token_urlsafe(12)
        users.create_superuser(username=username, password=password, email="")
        base = site_url(addrport)
        self.stdout.write(self.style.SUCCESS(
            f"Demo account created: {username} / {password}  -> {base}/admin/ "
            f"and {base}/srv.asmx/AuthenticateUser?UID={username}&PWD={password}"
        ))

    def _serve(self, addrport):
        # Static files (the admin's CSS) are served by runserver even with DEBUG off;
        # DEBUG stays as the settings say (on only with DJANGO_DEBUG=1).
        call_command("runserver", addrport, insecure_serving=True)


def site_url(addrport: str) -> str:
    """The URL a browser on this machine uses for runserver's ``[ADDR:]PORT``."""
    addr, _, port = addrport.rpartition(":")
    addr = addr.strip("[]")
    if addr in ("", "0", "0.0.0.0", "::"):  # all interfaces, or runserver's default
        addr = "127.0.0.1"
    return f"http://[{addr}]:{port}" if ":" in addr else f"http://{addr}:{port}"
