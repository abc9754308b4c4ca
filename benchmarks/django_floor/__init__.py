"""The floor behind Django: the demo site's settings and middleware, one DRF view.

What a request costs in Django and Django REST framework before any work of
``chunked_upload``: the same settings, middleware and database configuration
as the demo site, and one ``APIView`` that appends the request body to a file
exactly as the raw floor does (``benchmarks/floor.py``), then answers. No
parsing, no checksum, no database statement. ``benchmarks.ingest
--django-floor`` serves it next to the others, so a figure of ours can be read
as "the framework's share" plus "the app's share".
"""
