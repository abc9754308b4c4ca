"""The upload engine: tickets, handlers, appends, finalize, downloads.

Nothing here knows about HTTP. Callers pass parsed values and receive result
objects or :class:`~chunked_upload.exceptions.ProtocolError`.
"""
