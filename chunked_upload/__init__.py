"""Chunked, CRC-checked uploads for Django through the infoRouter ``srv.asmx`` API."""

__version__ = "0.1.0"
