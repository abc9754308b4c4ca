"""S3 document storage that reads byte ranges.

django-storages' ``S3Storage.open()`` downloads the whole object before the
first read, so serving a 1 GiB document in 8 MiB DownloadFileChunk calls
would fetch it 128 times. :class:`RangedS3Storage` adds ``read_range``, which
:func:`chunked_upload.documents.read_range` uses to fetch just the bytes asked
for. Use it as the ``BACKEND`` of the storage named in ``DOCUMENT_STORAGE``.
"""

from __future__ import annotations

from ..exceptions import MissingExtra

try:
    from storages.backends.s3 import S3Storage
    from storages.utils import clean_name
except ImportError as exc:
    raise MissingExtra("RangedS3Storage", "django-storages with boto3", "s3") from exc


class RangedS3Storage(S3Storage):
    """``S3Storage`` plus ranged reads (one GET with a ``Range`` header)."""

    def read_range(self, name: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        key = self._normalize_name(clean_name(name))  # as S3Storage._open names it
        answer = self.bucket.Object(key).get(Range=f"bytes={offset}-{offset + length - 1}")
        return answer["Body"].read()
