"""Signals sent by the upload engine, after the state change is committed.

Every signal is sent with ``sender=UploadHandler`` (or ``DownloadHandler``)
and these keyword arguments:

- ``handler_created(handler)``: CreateUploadHandler made ``handler``.
- ``chunk_accepted(handler, chunk)``: ``chunk`` (a ledger row) was appended.
- ``crc_mismatch(handler, expected, received, length)``: a chunk was refused
  because its CRC (``received``) differs from the claimed one (``expected``).
- ``upload_completed(handler)``: the last chunk arrived.
- ``document_finalized(handler, document, version, created)``: ``version``
  was stored; ``created`` tells whether ``document`` is new.
- ``handler_expired(handler, staged_bytes)``: expired, staged bytes removed.
- ``handler_deleted(handler, staged_bytes)``: DeleteUploadHandler removed it.
"""

from django.dispatch import Signal

handler_created = Signal()
chunk_accepted = Signal()
crc_mismatch = Signal()
upload_completed = Signal()
document_finalized = Signal()
handler_expired = Signal()
handler_deleted = Signal()
