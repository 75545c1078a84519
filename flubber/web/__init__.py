"""flubber.web: a node's page in the browser, served by the node itself.

:class:`WebServer` runs gevent's WSGI server in the node's process: the page
(hand-written HTML, JavaScript and CSS from ``flubber/web/static``, nothing
fetched from the internet) and its JSON API, ``/api/values``,
``/api/status``, ``/api/series`` and ``/api/events`` (server-sent events),
plus ``/api/set`` for keys the node lets the page write with a token. See
the docs' "The node in a browser" chapter. The pieces: :mod:`flubber.web.server`
(the server), :mod:`flubber.web.app` (routes), :mod:`flubber.web.live` and
:mod:`flubber.web.events` (live values, server-sent events),
:mod:`flubber.web.series` (logged data, its query string and limits) and
:mod:`flubber.web.status`.
"""
from flubber.web._decimate import MinMaxDecimator, decimate
from flubber.web.app import STATIC_DIR, HTTPError, WebApp
from flubber.web.events import Broadcaster, Subscriber, format_event
from flubber.web.live import LiveValues
from flubber.web.series import BadQuery, SeriesQuery, SeriesSource, parse_series_query, read_window
from flubber.web.server import DEFAULT_HOST, DEFAULT_PORT, WebError, WebServer
from flubber.web.status import NodeStatus

__all__ = [
    "WebServer", "WebError", "WebApp", "HTTPError", "DEFAULT_HOST", "DEFAULT_PORT", "STATIC_DIR",
    "LiveValues", "Broadcaster", "Subscriber", "format_event", "NodeStatus",
    "SeriesSource", "SeriesQuery", "BadQuery", "parse_series_query", "read_window",
    "MinMaxDecimator", "decimate",
]
