"""Sizes as people read them: IEC units labelled as such, exact bytes on hover."""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString

UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def iec(size: int) -> str:
    """``1536`` → ``"1.5 KiB"``; below 1 KiB the exact count (``"512 bytes"``)."""
    if size < 1024:
        return f"{size} byte" if size == 1 else f"{size} bytes"
    value = float(size)
    for unit in UNITS:
        value /= 1024
        if value < 1024 or unit == UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def sized(size: int) -> SafeString:
    """:func:`iec` in a span whose title holds the exact byte count."""
    return format_html('<span class="cu-bytes" title="{} bytes">{}</span>', f"{size:,}", iec(size))
