"""Integrity tests: the demo site under gunicorn, driven over HTTP.

These tests never use pytest-django's test database. Each demo site gets its
own database (on the PostgreSQL server of ``DATABASE_URL`` when it is set,
else a SQLite file in the site's data directory) and its own ``DATA_DIR``, so
the test can look at both directly while the server runs, kill it and start
it again.
"""
