"""The one HTTP layer every online client uses: retries, timeouts, polite rate limits, resumable downloads.

- `Client.request` retries connection errors, timeouts, HTTP 429 and 5xx with capped exponential backoff,
  honouring `Retry-After` (seconds or an HTTP date) up to the cap; other 4xx answers stop at once.
- A per-host minimum interval between requests (`rate_per_host`, seconds) keeps us polite (TED's search
  API allows about one request a second, SCB 30 per 10 s).
- `Client.download` streams a file to `<name>.part`, hashing it (sha256) on the way, and renames it to
  its final name only when complete; an interrupted download resumes from the `.part` file with a
  `Range` request when the server honours it (HTTP 206), and starts again otherwise.
- `download(..., headers={"If-None-Match": etag})` makes it conditional: an HTTP 304 answer returns None
  and writes nothing; a completed `Download` carries the answer's `ETag` and `Last-Modified`.
- Failures become one `UserError` line naming the URL: "cannot reach … (offline?)" or "answered HTTP 404".

Tests replace the sleeping function and point the clients at a loopback server, never the internet.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import os
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from .. import __version__
from ..errors import UserError

USER_AGENT = f"kommun-it/{__version__} (+https://github.com/kommun-it; open-data research)"
TIMEOUT = (10, 120)  # seconds to connect, seconds between bytes
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
CHUNK = 1 << 20


class OfflineError(UserError):
    """The publisher could not be reached at all (no network, DNS failure, refused connection)."""


@dataclass(frozen=True)
class Download:
    """A completed download: where it is, its size, sha256, the URL asked and when it arrived (UTC)."""

    path: Path
    url: str
    size: int
    sha256: str
    retrieved_at: str
    resumed: bool = False
    etag: str = ""
    last_modified: str = ""


@dataclass
class Client:
    """A requests session with retries, backoff, per-host rate limits and resumable downloads."""

    what: str = "refresh"
    retries: int = 4
    connect_retries: int = 1  # a refused or unresolvable host rarely heals within seconds: say offline soon
    backoff: float = 1.0  # first wait, doubled per retry
    max_wait: float = 60.0  # cap on any single wait, Retry-After included
    rate_per_host: float = 0.0  # minimum seconds between two requests to the same host
    timeout: tuple[float, float] = TIMEOUT
    progress: bool = False
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session)
    _last: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.session.headers.setdefault("User-Agent", USER_AGENT)

    # ------------------------------------------------------------ requests

    def _polite(self, url: str) -> None:
        if self.rate_per_host <= 0:
            return
        host = urllib.parse.urlsplit(url).netloc
        with self._lock:
            wait = self._last.get(host, -1e9) + self.rate_per_host - time.monotonic()
            if wait > 0:
                self.sleep(wait)
            self._last[host] = time.monotonic()

    def _wait(self, attempt: int, resp: requests.Response | None) -> float:
        wait = self.backoff * 2**attempt
        header = resp.headers.get("Retry-After") if resp is not None else None
        if header:
            if header.strip().isdigit():
                wait = float(header.strip())
            else:
                try:
                    when = email.utils.parsedate_to_datetime(header)
                    wait = (when - dt.datetime.now(dt.UTC)).total_seconds()
                except (TypeError, ValueError):
                    pass
        return max(0.0, min(wait, self.max_wait))

    def request(self, method: str, url: str, *, stream: bool = False, ok: tuple[int, ...] = (200,), **kw):
        """One HTTP call with retries; returns the response (status in `ok`) or raises one UserError line."""
        last_problem = ""
        connect_failures = 0
        for attempt in range(self.retries + 1):
            self._polite(url)
            resp = None
            try:
                resp = self.session.request(method, url, timeout=self.timeout, stream=stream, **kw)
            except requests.ConnectionError as exc:
                last_problem = f"cannot reach it ({type(exc).__name__})"
                connect_failures += 1
                if attempt == self.retries or connect_failures > self.connect_retries:
                    raise OfflineError(
                        f"{self.what}: cannot reach {url} (offline? {type(exc).__name__}); refreshing needs network access"
                    ) from exc
            except requests.Timeout as exc:
                last_problem = f"timed out ({type(exc).__name__})"
            except requests.RequestException as exc:
                raise UserError(f"{self.what}: request to {url} failed ({type(exc).__name__}: {exc})") from exc
            else:
                if resp.status_code in ok:
                    return resp
                last_problem = f"answered HTTP {resp.status_code}"
                if resp.status_code not in RETRY_STATUSES:
                    resp.close()
                    raise UserError(f"{self.what}: {url} {last_problem}")
                resp.close()
            if attempt < self.retries:
                self.sleep(self._wait(attempt, resp))
        raise UserError(f"{self.what}: {url} {last_problem} after {self.retries + 1} attempts")

    def get_json(self, url: str, **kw):
        resp = self.request("GET", url, **kw)
        return _json(resp, url, self.what)

    def post_json(self, url: str, body: dict, **kw):
        resp = self.request("POST", url, json=body, **kw)
        return _json(resp, url, self.what)

    # ------------------------------------------------------------ downloads

    def download(
        self, url: str, dest: Path, *, params: dict | list | None = None, headers: dict | None = None
    ) -> Download | None:
        """Stream url to dest via dest.part (resuming it when possible), hashing on the way; rename when complete.

        `headers` may make the request conditional (If-None-Match, If-Modified-Since; not sent while
        resuming a .part): None when the server answers 304 Not Modified.
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        have = part.stat().st_size if part.exists() else 0
        sent = {"Range": f"bytes={have}-"} if have else dict(headers or {})
        resp = self.request("GET", url, stream=True, ok=(200, 206, 304, 416), headers=sent, params=params)
        if resp.status_code == 304:
            resp.close()
            return None
        digest = hashlib.sha256()
        resumed = resp.status_code == 206 and have > 0
        if resp.status_code == 416:  # the .part is already complete (or stale): start over
            resp.close()
            part.unlink(missing_ok=True)
            return self.download(url, dest, params=params, headers=headers)
        if resumed:
            with part.open("rb") as f:
                for block in iter(lambda: f.read(CHUNK), b""):
                    digest.update(block)
            mode, done = "ab", have
        else:
            mode, done = "wb", 0
        total = resp.headers.get("Content-Length")
        total = int(total) + done if total and total.isdigit() else None
        bar = _bar(total, done, dest.name) if self.progress else None
        try:
            with part.open(mode) as out:
                for block in resp.iter_content(CHUNK):
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    if bar is not None:
                        bar.update(len(block))
        except requests.RequestException as exc:
            raise UserError(
                f"{self.what}: download of {url} broke off after {done:,} bytes ({type(exc).__name__});"
                f" run the command again to resume from {part.name}"
            ) from exc
        finally:
            resp.close()
            if bar is not None:
                bar.close()
        if total is not None and done != total:
            raise UserError(f"{self.what}: {url} sent {done:,} of {total:,} bytes; run again to resume")
        os.replace(part, dest)
        return Download(
            dest, resp.url or url, done, digest.hexdigest(), _now(), resumed,
            etag=resp.headers.get("ETag", ""), last_modified=resp.headers.get("Last-Modified", ""),
        )


def _bar(total: int | None, initial: int, name: str):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, desc=name, leave=False)


def _json(resp: requests.Response, url: str, what: str):
    import json

    try:
        return json.loads(resp.content.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{what}: {url} did not answer JSON ({exc})") from exc


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def sha256_path(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def join(base: str, *parts: str) -> str:
    """base URL + path parts, with exactly one slash between them."""
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
