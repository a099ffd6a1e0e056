"""Tiny bookinfo apps for the demo mesh: productpage, details, reviews (v1/v2/v3) and ratings, in threads.

They behave like Istio's bookinfo where it matters for debugging a mesh: productpage calls details and
reviews, reviews v2/v3 call ratings, every call goes through the caller's sidecar (the app dials its own
proxy's outbound listener ``<proxy-ip>:<service-port>`` with ``Host: <service>:<port>``, as iptables capture
would arrange in a cluster), and the ``end-user`` and trace headers are forwarded so header routing works
end to end. Workloads of other manifests (``meshctl demo -f``) get a generic echo. Every reply names the pod that served it (``x-served-by`` header, ``served_by`` field) so a user,
the load generator and tests can see where traffic went.
"""

from __future__ import annotations

import html
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from meshctl.demo.httpd import BackgroundHTTPServer

#: Headers bookinfo propagates from the incoming request to its outgoing calls (tracing + user identity).
FORWARD_HEADERS = (
    "end-user",
    "x-request-id",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "b3",
    "traceparent",
    "tracestate",
    "x-ot-span-context",
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "x-cloud-trace-context",
    "grpc-trace-bin",
    "user-agent",
)

BOOK = {
    "id": 0,
    "author": "William Shakespeare",
    "year": 1595,
    "type": "paperback",
    "pages": 200,
    "publisher": "PublisherA",
    "language": "English",
    "ISBN-10": "1234567890",
    "ISBN-13": "123-1234567890",
}

REVIEWS = [
    ("Reviewer1", "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!"),
    (
        "Reviewer2",
        "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.",
    ),
]

STAR_COLOR = {"v2": "black", "v3": "red"}

#: The apps with bookinfo behaviour; workloads with other ``app`` labels get a generic echo.
BOOKINFO = frozenset({"productpage", "details", "reviews", "ratings"})


@dataclass
class Upstream:
    """Where an app reaches the mesh: its own sidecar's outbound listener address."""

    ip: str
    port: int = 9080
    timeout: float = 3.0

    def get(self, service: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any] | None, str]:
        """GET ``path`` from ``service`` through the sidecar; (status, json body or None, served-by)."""
        req = urllib.request.Request(
            f"http://{self.ip}:{self.port}{path}", headers={**headers, "Host": f"{service}:{self.port}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:  # noqa: S310 - loopback mesh
                body = r.read()
                return r.status, json.loads(body), r.headers.get("x-served-by", "")
        except urllib.error.HTTPError as e:
            return e.code, None, e.headers.get("x-served-by", "") if e.headers else ""
        except (OSError, ValueError):
            return 503, None, ""


@dataclass
class AppSpec:
    """One demo workload's app: which bookinfo app, its version and pod name, where it listens and dials."""

    app: str  # productpage | details | reviews | ratings
    version: str
    pod: str
    listen_ip: str
    listen_port: int
    upstream: Upstream


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: avoid the 40 ms Nagle/delayed-ACK stall
    spec: AppSpec  # set on the per-app subclass

    def log_message(self, format: str, *args: object) -> None:  # the demo prints its own summary
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        forwarded = {k: v for k, v in ((h, self.headers.get(h)) for h in FORWARD_HEADERS) if v}
        path = self.path.split("?", 1)[0]
        try:
            status, ctype, body = route(self.spec, path, forwarded)
        except Exception as e:  # an app bug must not kill the server thread
            status, ctype, body = 500, "text/plain", f"internal error: {e}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-served-by", self.spec.pod)
        self.end_headers()
        self.wfile.write(body)


def _json(status: int, data: dict[str, Any]) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(data).encode()


def route(spec: AppSpec, path: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
    """The app's request handling, as a pure-ish function of (app, path, forwarded headers)."""
    if path in ("/health", "/healthz", "/ready"):
        return _json(200, {"status": "ok", "served_by": spec.pod})
    if spec.app == "details" and path.startswith("/details/"):
        return _json(200, {**BOOK, "served_by": spec.pod})
    if spec.app == "ratings" and path.startswith("/ratings/"):
        return _json(200, {"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}, "served_by": spec.pod})
    if spec.app == "reviews" and path.startswith("/reviews/"):
        return _json(200, reviews(spec, headers))
    if spec.app == "productpage" and path in ("/", "/productpage"):
        if path == "/":
            return (
                200,
                "text/html",
                b'<html><body><a href="/productpage">Bookinfo product page</a></body></html>\n',
            )
        return productpage(spec, headers)
    if spec.app not in BOOKINFO:
        # any other workload (``meshctl demo -f your-manifests/``): a small echo naming who answered
        return _json(200, {"served_by": spec.pod, "app": spec.app, "version": spec.version, "path": path})
    return _json(404, {"error": f"no such path {path}", "served_by": spec.pod})


def reviews(spec: AppSpec, headers: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": "0",
        "podname": spec.pod,
        "clustername": "null",
        "served_by": spec.pod,
        "version": spec.version,
    }
    items: list[dict[str, Any]] = [{"reviewer": r, "text": t} for r, t in REVIEWS]
    if spec.version in STAR_COLOR:
        status, data, by = spec.upstream.get("ratings", "/ratings/0", headers)
        out["ratings_served_by"] = by
        for item in items:
            if status == 200 and data:
                item["rating"] = {
                    "stars": data["ratings"].get(item["reviewer"], 0),
                    "color": STAR_COLOR[spec.version],
                }
            else:
                item["rating"] = {"error": "Ratings service is currently unavailable"}
    out["reviews"] = items
    return out


def productpage(spec: AppSpec, headers: dict[str, str]) -> tuple[int, str, bytes]:
    d_status, details, d_by = spec.upstream.get("details", "/details/0", headers)
    r_status, revs, r_by = spec.upstream.get("reviews", "/reviews/0", headers)
    user = headers.get("end-user")
    parts = ["<html><head><title>Simple Bookstore App</title></head><body>", "<h1>The Comedy of Errors</h1>"]
    parts.append(f"<p>Signed in as: {html.escape(user)}</p>" if user else "<p>Not signed in</p>")
    parts.append(f'<p class="served-by">productpage served by {spec.pod}</p>')
    if d_status == 200 and details:
        parts.append("<h4>Book Details</h4><dl>")
        for key in ("type", "pages", "publisher", "language", "ISBN-10", "ISBN-13"):
            parts.append(f"<dt>{key}:</dt><dd>{details[key]}</dd>")
        parts.append(f'</dl><p class="served-by">details served by {d_by}</p>')
    else:
        parts.append(
            f"<h4>Error fetching product details!</h4><p>Sorry, product details are currently unavailable ({d_status}).</p>"
        )
    if r_status == 200 and revs:
        parts.append("<h4>Book Reviews</h4>")
        for item in revs["reviews"]:
            stars = ""
            rating = item.get("rating")
            if rating and "stars" in rating:
                stars = f' <span class="stars" style="color:{rating["color"]}">{"★" * rating["stars"]}</span>'
            elif rating:
                stars = f' <span class="stars">{html.escape(rating["error"])}</span>'
            parts.append(
                f"<blockquote><p>{html.escape(item['text'])}</p><small>{item['reviewer']}</small>{stars}</blockquote>"
            )
        parts.append(
            f'<p class="served-by">reviews served by {r_by} (version {revs.get("version", "?")})</p>'
        )
    else:
        parts.append(
            f"<h4>Error fetching product reviews!</h4><p>Sorry, product reviews are currently unavailable for this book ({r_status}).</p>"
        )
    parts.append("</body></html>\n")
    return 200, "text/html; charset=utf-8", "\n".join(parts).encode()


class AppServer:
    """One app bound to ``spec.listen_ip:spec.listen_port`` in a background thread."""

    def __init__(self, spec: AppSpec) -> None:
        self.spec = spec
        handler = type(f"{spec.app}Handler", (_Handler,), {"spec": spec})
        self._http = BackgroundHTTPServer(spec.listen_ip, spec.listen_port, handler, f"app-{spec.pod}")

    def start(self) -> AppServer:
        self._http.start()
        return self

    def close(self) -> None:
        self._http.close()
