"""Helpers of the browser tests: screenshots, logging in, slow chunks, test files."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from tests.factories import PASSWORD

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def log_in(page, base_url: str, username: str = "uploader") -> None:
    page.goto(f"{base_url}/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("[data-chunked-uploader].cu-ready")


def slow_chunks(page, seconds: float = 0.15) -> None:
    """Hold every UploadFileChunk request a moment, so a test can act mid-upload."""
    def delay(route):
        time.sleep(seconds)
        route.continue_()

    page.route("**/srv.asmx/UploadFileChunk", delay)


def make_file(directory: Path, name: str, size: int) -> Path:
    """A file of ``size`` pseudo-random bytes (different for every name)."""
    path = directory / name
    seed = hashlib.sha256(name.encode()).digest()
    block = hashlib.shake_256(seed).digest(1 << 20)
    with path.open("wb") as out:
        left = size
        while left:
            piece = block[: min(left, len(block))]
            out.write(piece)
            left -= len(piece)
            block = block[1:] + block[:1]  # no two MiB alike
    return path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wait_state(page, name: str, state: str, timeout: float = 60_000) -> None:
    page.wait_for_selector(
        f'.cu-item[data-state="{state}"]:has(.cu-name:text-is("{name}"))', timeout=timeout)


def item(page, name: str):
    return page.locator(".cu-item", has=page.locator(f'.cu-name:text-is("{name}")'))
