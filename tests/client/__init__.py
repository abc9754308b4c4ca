"""The Python client and its command line, against the demo site under gunicorn."""
