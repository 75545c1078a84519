"""A cooperative HTTP client for tests in the node's own process: http.client over gevent sockets."""
import http.client
import json

import gevent.socket


class Connection(http.client.HTTPConnection):
    """:class:`http.client.HTTPConnection` whose socket is a gevent socket (the hub keeps running)."""

    def connect(self):
        self.sock = gevent.socket.create_connection((self.host, self.port), self.timeout)


def request(address, method, path, body=None, headers=None, timeout=10):
    """Send one request to *address* ``(host, port)``; return ``(status, headers, body bytes)``."""
    connection = Connection(*address, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def get_json(address, path):
    """GET *path*; return ``(status, decoded JSON)``."""
    status, _, body = request(address, "GET", path)
    return status, json.loads(body)


def post_json(address, path, data, token=None):
    """POST *data* as JSON (with a bearer *token*); return ``(status, decoded JSON)``."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = "Bearer " + token
    status, _, body = request(address, "POST", path, json.dumps(data).encode("utf-8"), headers)
    return status, json.loads(body)


def open_events(address, timeout=10):
    """Open ``/api/events``; return the response (read it line by line)."""
    connection = Connection(*address, timeout=timeout)
    connection.request("GET", "/api/events")
    response = connection.getresponse()
    response._flubber_connection = connection
    return response


def read_event(response):
    """Read the next named event of an open stream; return ``(event, decoded data)``."""
    event = None
    while True:
        line = response.readline()
        if not line:
            raise EOFError("the event stream ended")
        line = line.rstrip(b"\r\n")
        if line.startswith(b"event: "):
            event = line[7:].decode()
        elif line.startswith(b"data: ") and event is not None:
            return event, json.loads(line[6:])
