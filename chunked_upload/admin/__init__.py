"""The admin: uploads in flight, and the tickets, folders and documents around them.

Everything is read-only: the admin never edits offsets, names or contents.
Upload handlers can be expired or deleted, always through the engine under
the handler's row lock, so a chunk being written finishes first and its
staged bytes go after the commit (:mod:`.uploads`). Tickets can be revoked
(:mod:`.tickets`). Versions download through the document storage
(:mod:`.documents`). The handler changelist makes a fixed number of queries
whatever the number of rows (``benchmarks/expiry.py`` counts them at 100,000
handlers).
"""

from . import documents, tickets, uploads

__all__ = ["documents", "tickets", "uploads"]
