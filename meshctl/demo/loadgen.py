"""A light load generator: bounded-rate requests through the ingress gateway so the mesh has traffic to show.

Every ``jason_every``-th request carries ``end-user: jason`` (bookinfo's header route to reviews v2). It
counts replies by status and by the reviews pod that served them (productpage names it in the page), which
is what ``meshctl demo status`` prints and what a user watching a traffic shift wants to see.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

REVIEWS_BY = re.compile(r"reviews served by (\S+)")


def served_reviews(page: str) -> str | None:
    """The reviews pod named in a productpage reply, if any."""
    m = REVIEWS_BY.search(page)
    return m.group(1) if m else None


@dataclass
class LoadStats:
    requests: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_reviews: Counter[str] = field(default_factory=Counter)
    last_error: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "by_status": dict(self.by_status),
            "by_reviews": dict(self.by_reviews),
            "last_error": self.last_error,
        }


class LoadGenerator:
    """GET ``url`` at most ``rate`` times a second from one background thread until :meth:`stop`."""

    def __init__(self, url: str, rate: float = 2.0, jason_every: int = 4, timeout: float = 5.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.url = url
        self.rate = rate
        self.jason_every = max(jason_every, 0)
        self.timeout = timeout
        self.stats = LoadStats()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="meshctl-demo-load", daemon=True)

    def start(self) -> LoadGenerator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1.0)  # a daemon thread: do not hold shutdown for an in-flight request

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return self.stats.as_dict()

    def _run(self) -> None:
        interval = 1.0 / self.rate
        n = 0
        next_at = time.monotonic()
        while not self._stop.is_set():
            n += 1
            headers = {"end-user": "jason"} if self.jason_every and n % self.jason_every == 0 else {}
            status, page, err = fetch(self.url, headers, self.timeout)
            with self._lock:
                self.stats.requests += 1
                self.stats.by_status[str(status)] += 1
                who = served_reviews(page)
                if who:
                    self.stats.by_reviews[who] += 1
                if err:
                    self.stats.last_error = err
            next_at = max(next_at + interval, time.monotonic())
            self._stop.wait(max(0.0, next_at - time.monotonic()))


def fetch(url: str, headers: dict[str, str] | None = None, timeout: float = 5.0) -> tuple[int, str, str]:
    """GET ``url``: (status or 0 if no reply, body text, error text)."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 - loopback mesh
            return r.status, r.read().decode(errors="replace"), ""
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace"), f"HTTP {e.code}"
    except OSError as e:
        return 0, "", str(e)
