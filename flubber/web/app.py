"""The WSGI application of a node's page: static files and the JSON API.

=====================  ======  ===================================================
path                   method  answer
=====================  ======  ===================================================
``/``                  GET     the page (``static/index.html``)
``/static/NAME``       GET     the page's scripts and style sheet
``/api/values``        GET     every row with value, unit, time and history
``/api/status``        GET     instruments, logger, sockets, KV transports, uptime
``/api/series``        GET     logged points, min/max decimated (``format=csv`` too)
``/api/events``        GET     server-sent events: ``snapshot`` then ``values``
``/api/set``           POST    set a writable KV key with a write token
``/api/NAME``          GET     a route a part of the node adds (``/api/alarms``)
``/api/NAME``          POST    an action a part of the node adds, with a write token (``/api/ack``)
=====================  ======  ===================================================

Errors are JSON ``{"error": MESSAGE}`` with a 4xx/5xx status; the message
says what to send instead.
"""
import hmac
import logging
import os
import socket
import urllib.parse

from flubber import _json as strict_json
from flubber.plot import PlotError
from flubber.web._json import dumps
from flubber.web.series import BadQuery, parse_series_query

__all__ = ["WebApp", "STATIC_DIR", "HTTPError"]

log = logging.getLogger(__name__)

#: Folder of the page's hand-written HTML, JavaScript and CSS.
STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")

_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}
_STATUS = {200: "200 OK", 400: "400 Bad Request", 401: "401 Unauthorized", 403: "403 Forbidden",
           404: "404 Not Found", 405: "405 Method Not Allowed", 409: "409 Conflict",
           413: "413 Payload Too Large", 500: "500 Internal Server Error", 503: "503 Service Unavailable"}

#: Longest request body accepted by ``/api/set`` (bytes).
MAX_BODY = 64 * 1024


class HTTPError(Exception):
    """An API answer other than 200: *status* and a message that says what to do."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class WebApp:
    """The page and API of one node.

    :param live: :class:`~flubber.web.live.LiveValues` of the node.
    :param broadcaster: the :class:`~flubber.web.events.Broadcaster` feeding ``/api/events``.
    :param status: the :class:`~flubber.web.status.NodeStatus` of ``/api/status``.
    :param series: a :class:`~flubber.web.series.SeriesSource`, or None when the node logs nothing.
    :param tokens: the node's write tokens (none: the page is read-only).
    """

    def __init__(self, live, broadcaster, status, series=None, tokens=()):
        self.live = live
        self.broadcaster = broadcaster
        self.status = status
        self.series = series
        self.tokens = [token.encode("utf-8") for token in tokens]
        #: Extra ``/api/NAME`` routes: NAME -> callable(environ) returning a JSON-able value.
        self.api_routes = {}
        #: Extra ``POST /api/NAME`` actions that need a write token: NAME -> callable(body) taking the
        #: decoded JSON body (a dict) and returning a JSON-able value; raise :class:`HTTPError` to refuse.
        self.post_routes = {}
        #: Called with no argument by ``/api/status``; returns the ``web`` entry (set by the server).
        self.web_status = None
        self._static = {name for name in os.listdir(STATIC_DIR) if os.path.splitext(name)[1] in _TYPES}

    # -- WSGI ------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if path == "/api/events":
                return self._events(environ, start_response)
            if path == "/" or path.startswith("/static/"):
                return self._file(path, method, start_response)
            if path == "/api/set":
                if method != "POST":
                    raise HTTPError(405, "/api/set takes a POST with a JSON body {\"key\": ..., \"value\": ...}")
                return self._json(start_response, 200, self._set(environ))
            action = path[len("/api/"):] if path.startswith("/api/") else None
            if method == "POST" and action in self.post_routes:
                body = self._body(environ, "{...}")
                self._authorize(environ, body, "to %s" % action)
                return self._json(start_response, 200, self.post_routes[action](body))
            known = ("/api/values", "/api/status", "/api/series") + tuple("/api/" + n for n in self.api_routes)
            if method not in ("GET", "HEAD") and path in known:
                raise HTTPError(405, "%s takes GET" % path)
            if method not in ("GET", "HEAD"):
                raise HTTPError(404, "nothing to %s at %s; the API's actions are /api/set%s" % (
                    method, path, "".join(", /api/" + name for name in sorted(self.post_routes))))
            if path == "/api/values":
                body = self.live.snapshot(history=True)
                body["writable"] = bool(self.tokens)
                return self._json(start_response, 200, body)
            if path == "/api/status":
                web = self.web_status() if self.web_status is not None else None
                return self._json(start_response, 200, self.status.report(web))
            if path == "/api/series":
                return self._series(environ, start_response)
            name = path[len("/api/"):] if path.startswith("/api/") else None
            if name in self.api_routes:
                return self._json(start_response, 200, self.api_routes[name](environ))
            raise HTTPError(404, "no page at %s; the API has /api/values, /api/status, /api/series, /api/events, "
                                 "/api/set" % path)
        except HTTPError as exc:
            return self._json(start_response, exc.status, {"error": str(exc)})
        except Exception:  # a bug must not take the node's page down: log it, answer 500
            log.exception("web: %s %s failed", method, path)
            return self._json(start_response, 500, {"error": "internal error; the node's log has the traceback"})

    @staticmethod
    def _json(start_response, status, body):
        data = dumps(body)
        start_response(_STATUS[status], [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
                                         ("Cache-Control", "no-store")])
        return [data]

    def _file(self, path, method, start_response):
        name = "index.html" if path == "/" else path[len("/static/"):]
        if name not in self._static:
            raise HTTPError(404, "no file %s; the page's files are: %s" % (path, ", ".join(sorted(self._static))))
        if method not in ("GET", "HEAD"):
            raise HTTPError(405, "%s takes GET" % path)
        with open(os.path.join(STATIC_DIR, name), "rb") as handle:
            data = handle.read()
        start_response("200 OK", [("Content-Type", _TYPES[os.path.splitext(name)[1]]),
                                  ("Content-Length", str(len(data))), ("Cache-Control", "no-cache")])
        return [data]

    # -- series ------------------------------------------------------------------------------
    def _series(self, environ, start_response):
        if self.series is None:
            raise HTTPError(404, "this node logs nothing, so there is nothing to plot; add a logger section "
                                 "to the node file")
        params = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        try:
            query = parse_series_query(params)
        except BadQuery as exc:
            raise HTTPError(400, str(exc)) from None
        try:
            if query.format == "csv":
                data = self.series.csv_text(query).encode("utf-8")
                filename = "%s-%s.csv" % (self.live.node.kv.name, "-".join(query.codenames))
                start_response("200 OK", [("Content-Type", "text/csv; charset=utf-8"),
                                          ("Content-Length", str(len(data))),
                                          ("Content-Disposition", 'attachment; filename="%s"' % filename)])
                return [data]
            return self._json(start_response, 200, self.series.series(query))
        except PlotError as exc:
            raise HTTPError(404, str(exc)) from None

    # -- events ------------------------------------------------------------------------------
    def _events(self, environ, start_response):
        sock = environ.get("flubber.web.socket")
        subscriber = self.broadcaster.subscribe(sock)
        if subscriber is None:
            raise HTTPError(503, "%d clients already follow this node's events; try again later"
                            % self.broadcaster.max_clients)
        if sock is not None:
            try:  # keep what the kernel holds for a client that stops reading small
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.broadcaster.send_buffer)
            except OSError:
                pass
        start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-store"),
                                  ("X-Accel-Buffering", "no")])
        return subscriber.messages()

    # -- set -------------------------------------------------------------------------------------
    def _token_ok(self, token):
        if not isinstance(token, str) or not token:
            return False
        given = token.encode("utf-8")
        return any(hmac.compare_digest(given, known) for known in self.tokens)

    def _body(self, environ, example):
        """The request's JSON body (a dict); raise :class:`HTTPError` saying what to send instead."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            raise HTTPError(413 if length > MAX_BODY else 400,
                            "send a JSON body of at most %d bytes: %s" % (MAX_BODY, example))
        try:
            body = strict_json.loads(environ["wsgi.input"].read(length).decode("utf-8"))
        except ValueError as exc:  # not UTF-8, not JSON, or nested too deeply
            raise HTTPError(400, "the body is not JSON (%s); send %s" % (exc, example)) from None
        if not isinstance(body, dict):
            raise HTTPError(400, "send a JSON object: %s" % example)
        return body

    def _authorize(self, environ, body, what):
        """Refuse unless the node has write tokens and the request carries one of them."""
        if not self.tokens:
            raise HTTPError(403, "this node's page is read-only: the node has no write tokens; add "
                                 "tcp: {tokens: [...]} (or tokens_file) to the node file")
        header = environ.get("HTTP_AUTHORIZATION", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else body.get("token")
        if not self._token_ok(token):
            raise HTTPError(401 if not token else 403,
                            "a write token is needed %s (the node file's tcp tokens)" % what
                            if not token else "the write token is not one of this node's; nothing was done")

    def _set(self, environ):
        body = self._body(environ, "{\"key\": ..., \"value\": ...}")
        if not isinstance(body.get("key"), str) or "value" not in body:
            raise HTTPError(400, "send {\"key\": NAME, \"value\": VALUE} (and the token in an "
                                 "Authorization: Bearer header or a \"token\" field)")
        address = body["key"]
        if not self.tokens:
            raise HTTPError(403, "this node's page is read-only: the node has no write tokens; add "
                                 "tcp: {tokens: [...]} (or tokens_file) to the node file")
        if not self.live.is_writable(address):
            raise HTTPError(403, "key %s cannot be set from the page; list it in the node file under "
                                 "web: {writable: [%s]}" % (address, address))
        self._authorize(environ, body, "to set %s" % address)
        return self._dripline_set(address, body["value"])

    def _dripline_set(self, address, value):
        """Set through the node's dripline path: locks, value checks and logging rules apply."""
        from flubber.kvstore import Request

        request = Request.from_dict({"msgtype": 3, "msgop": 0, "target": address, "payload": {"values": [value]},
                                     "lockout_key": None, "sender_info": {"service_name": "web"}})
        reply = self.live.node.kv.handle(request)
        if reply.retcode != 0:
            raise HTTPError(409, "%s refused the value: %s (dripline retcode %d)"
                            % (address, reply.return_msg, reply.retcode))
        log.info("web: %s set to %r", address, value)
        return {"key": address, "value": value, "retcode": reply.retcode, "reply": reply.payload}
