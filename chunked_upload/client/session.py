"""A logged-in conversation with one server: requests, retries, the ticket.

:class:`Session` is the only place that talks HTTP. It adds the ticket to
each call, retries what is worth retrying (connection errors, timeouts,
HTTP 5xx, the protocol's internal errors) with capped exponential backoff,
logs in again when the ticket has expired (if it has the password), and
logs out on :meth:`Session.close` if it logged in itself.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar, cast

from .. import __version__
from .errors import ClientError, MissingExtra, ServerError, TicketExpired, TransportError
from .protocol import PREFIX, Answer, MultipartChunk, parse_answer

try:
    import requests
except ImportError as error:  # pragma: no cover - the extra names the dependency
    raise MissingExtra("requests", "client") from error

logger = logging.getLogger("chunked_upload.client")
T = TypeVar("T")

#: The protocol's "anything unexpected" code: a server in trouble, worth another try.
SYSTEM_ERROR = 5000


class TransientError(TransportError):
    """One attempt failed in a way another attempt may not (retried, then raised)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a call is retried.

    ``attempts`` counts the first try; the delay before attempt *n* + 1 is
    ``initial_delay * multiplier ** (n - 1)``, capped at ``max_delay``, with
    ±20 % jitter so that many clients do not come back in step. The defaults
    ride out a server restart of a minute or two.
    """

    attempts: int = 10
    initial_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 30.0
    connect_timeout: float = 10.0
    read_timeout: float = 300.0

    def delays(self) -> Iterator[float]:
        """The pauses between attempts (one fewer than ``attempts``)."""
        delay = self.initial_delay
        for _ in range(self.attempts - 1):
            yield min(delay, self.max_delay) * random.uniform(0.8, 1.2)
            delay *= self.multiplier


class Session:
    """A session with the ``srv.asmx`` service at ``url``.

    Log in with ``user`` and ``password`` (lazily, at the first call), or
    use an existing ``ticket``. With a password the session logs in again
    when its ticket expires; it logs out on :meth:`close` only if it logged
    in itself. Use it as a context manager::

        with Session("https://dms.example.com/", user="ann", password=pw) as s:
            upload(s, "report.pdf", "/Finance/report.pdf")
    """

    def __init__(self, url: str, *, user: str | None = None, password: str | None = None,
                 ticket: str | None = None, retry: RetryPolicy | None = None,
                 verify: bool | str = True) -> None:
        if ticket is None and (user is None or password is None):
            raise ValueError("a Session needs a ticket, or a user and a password")
        self.url = normalize_url(url)
        self.user = user
        self._password = password
        self._ticket = ticket
        self._own_ticket = False
        self.retry = retry or RetryPolicy()
        self.http = requests.Session()
        for scheme in ("http://", "https://"):
            self.http.mount(scheme, _Adapter())
        self.http.verify = verify
        self.http.headers["User-Agent"] = f"chunked-upload-client/{__version__}"

    # Lifetime --------------------------------------------------------------
    def __enter__(self) -> Session:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Log out (if this session logged in) and close the connections."""
        try:
            if self._own_ticket and self._ticket is not None:
                try:
                    self._post("LogOut", {"authenticationTicket": self._ticket})
                except ClientError as error:  # the ticket then simply expires
                    logger.info("LogOut failed: %s", error)
                self._ticket = None
        finally:
            self.http.close()

    # The ticket ------------------------------------------------------------
    @property
    def ticket(self) -> str:
        """The current ticket (logging in first if there is none)."""
        if self._ticket is None:
            self.login()
        assert self._ticket is not None
        return self._ticket

    @property
    def can_log_in(self) -> bool:
        return self.user is not None and self._password is not None

    def login(self) -> str:
        """AuthenticateUser with the session's user and password; the new ticket."""
        if not self.can_log_in:
            raise TicketExpired("AuthenticateUser", "the ticket expired and the session "
                                "has no password to log in again")
        answer = self.retrying("AuthenticateUser", lambda: self._post(
            "AuthenticateUser", {"UID": self.user or "", "PWD": self._password or ""}))
        self._ticket, self._own_ticket = answer["ticket"], True
        return self._ticket

    # Calls -----------------------------------------------------------------
    def call(self, method: str, **params: object) -> Answer:
        """Call ``method`` with the ticket; retried, and with a renewed ticket if needed."""
        return self.retrying(method, lambda: self.once(method, params))

    def once(self, method: str, params: Mapping[str, object],
             chunk: bytes | memoryview | None = None) -> Answer:
        """One call with the ticket (logging in again once if it has expired).

        Failures worth another try raise :class:`TransientError`; ``chunk``
        makes it a multipart request with the chunk as its file part.
        """
        for renewed in (False, True):
            fields = {"authenticationTicket": self.ticket,
                      **{name: str(value) for name, value in params.items()}}
            try:
                return self._post(method, fields, chunk)
            except TicketExpired:
                if renewed or not self.can_log_in:
                    raise
                logger.warning("%s: the ticket expired; logging in again", method)
                self._ticket = None
        raise AssertionError("unreachable")  # pragma: no cover

    def retrying(self, what: str, attempt: Callable[[], T],
                 before_retry: Callable[[], T | None] | None = None) -> T:
        """``attempt()`` until it succeeds, retrying :class:`TransientError` per the policy.

        ``before_retry`` runs after each pause; a value other than None ends
        the retries with that value (how a lost answer is resolved).
        """
        delays = self.retry.delays()
        while True:
            try:
                return attempt()
            except TransientError as error:
                delay = next(delays, None)
                if delay is None:
                    raise TransientError(f"{what}: giving up after {self.retry.attempts} "
                                         f"attempts: {error}") from error
                logger.warning("%s; retrying in %.1f s", error, delay)
                time.sleep(delay)
            if before_retry is not None and (resolved := before_retry()) is not None:
                return resolved

    def _post(self, method: str, fields: Mapping[str, str],
              chunk: bytes | memoryview | None = None) -> Answer:
        url = f"{self.url}{PREFIX}/{method}"
        try:
            if chunk is None:
                response = self.http.post(url, data=fields, timeout=self._timeouts(),
                                          stream=True)
            else:
                body = MultipartChunk(fields, chunk)
                # An iterable with a length: requests streams it with a Content-Length.
                response = self.http.post(url, data=cast("Iterable[bytes]", body),
                                          timeout=self._timeouts(),
                                          headers={"Content-Type": body.content_type},
                                          stream=True)
            with response:
                content = _read_body(response)
        except requests.Timeout as error:
            raise TransientError(f"{method}: timed out ({_reason(error)})") from error
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
            # (The second: the connection broke in the middle of the answer.)
            raise TransientError(f"{method}: connection failed ({_reason(error)})") from error
        except requests.RequestException as error:
            raise TransportError(f"{method}: {_reason(error)}") from error
        if response.status_code >= 500:
            raise TransientError(f"{method}: HTTP {response.status_code}")
        if response.status_code != 200:
            raise TransportError(f"{method}: HTTP {response.status_code} from {url}: "
                                 f"{_error_text(content)}")
        try:
            return parse_answer(method, content)
        except ServerError as error:
            if error.code == SYSTEM_ERROR:
                raise TransientError(f"{method}: {error.error}") from error
            raise

    def _timeouts(self) -> tuple[float, float]:
        return (self.retry.connect_timeout, self.retry.read_timeout)


class _Adapter(requests.adapters.HTTPAdapter):
    """requests' adapter with Nagle's algorithm left on.

    urllib3 sets ``TCP_NODELAY``: good for small exchanges, but while a chunk
    of MiBs streams out, every partial write then leaves as a small segment
    of its own, which the server reads a piece at a time (measured: uploads
    about a fifth slower). Small calls do not suffer: their headers and body
    leave in one write.
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["socket_options"] = []
        super().init_poolmanager(*args, **kwargs)


def normalize_url(url: str) -> str:
    """The service's mount URL, ending in ``/`` (a trailing ``srv.asmx`` is dropped)."""
    url = url.strip()
    if "://" not in url:
        raise ValueError(f"not an http(s) URL: {url!r}")
    url = url.rstrip("/")
    if url.lower().endswith("/" + PREFIX):
        url = url[: -len(PREFIX) - 1]
    return url + "/"


def _read_body(response: requests.Response) -> bytes | bytearray:
    """The whole answer, grown in one buffer (a download chunk's answer is MiBs).

    ``response.content`` would join a list of small pieces: twice the answer
    in memory at the end; a bytearray grows in place.
    """
    body = bytearray()
    for piece in response.iter_content(1 << 20):  # requests' errors, decoded
        body += piece
    return body


def _reason(error: Exception) -> str:
    # requests nests the socket error a few levels deep; its last line is the useful one.
    text = str(error.args[0] if error.args else error)
    return text.rsplit(": ", 1)[-1].strip("')\"") or type(error).__name__


def _error_text(content: bytes | bytearray) -> str:
    try:
        return parse_answer("", content).get("error") or content[:200].decode(errors="replace")
    except ClientError as error:
        return getattr(error, "error", str(error))
