"""Which nodes answer on a broker: one broadcast ping (``flubber nodes``).

Every flubber node's queue is bound to ``broadcast.#`` on the ``requests``
exchange (dripline-cpp binds its services the same way), and a node answers
``cmd broadcast ping`` with what it says of itself
(:meth:`flubber.kvstore.KVNode.info`: name, host, pid, uptime, keys,
version). :func:`ping_nodes` sends that one request and collects the
replies for a short while; :func:`wait_for_nodes` pings until enough nodes
answer.
"""
import time

import gevent

from flubber.kvstore import BROADCAST_KEY, OP_CMD, Request

__all__ = ["ping_nodes", "wait_for_nodes", "format_uptime"]


def _ping_request():
    return Request(BROADCAST_KEY + ".ping", OP_CMD, {"values": []})


def ping_nodes(url, timeout=2.0, expect=None, client=None):
    """Return the nodes that answer a broadcast ping on the broker at *url*, sorted by name.

    Each is the info dict of the node's reply (``name``, ``host``, ``pid``,
    ``uptime``, ``keys``, ``stores``, ``version``, ...) plus ``reply_ms``,
    the time its reply took. Waits *timeout* seconds for replies, or until
    *expect* nodes answered. A service that answers without an info dict
    (a dripline-cpp service, say) is listed with its ``sender_info``
    service name only.

    :param client: an :class:`~flubber.kvstore.AMQPKVClient` to reuse
        (default: one made and closed here).
    :raises flubber.kvstore.AMQPConnectionError: the broker cannot be reached.
    """
    from flubber.kvstore import AMQPKVClient  # pika: only where a broker is used

    own = client is None
    client = AMQPKVClient(url) if own else client
    try:
        client.connect()
        started = time.monotonic()
        arrivals = []
        replies = client.gather(_ping_request(), timeout=timeout, expect=expect,
                                on_reply=lambda reply: arrivals.append(time.monotonic() - started))
    finally:
        if own:
            client.close()
    nodes = []
    for reply, seconds in zip(replies, arrivals):
        info = dict(reply.payload) if reply.ok and "name" in reply.payload else {
            "name": (reply.sender_info or {}).get("service_name") or "?", "host": (reply.sender_info or {})
            .get("hostname", ""), "version": (reply.sender_info or {}).get("version", "")}
        info["reply_ms"] = round(seconds * 1000.0, 2)
        nodes.append(info)
    return sorted(nodes, key=lambda node: str(node.get("name")))


def wait_for_nodes(url, count, timeout=60.0, interval=0.5, ping_timeout=1.0, names=None):
    """Ping until *count* nodes (or every name of *names*) answer; return ``(nodes, seconds waited)``.

    A broker that cannot be reached counts as no answer (it may be
    starting). Raises :class:`TimeoutError` after *timeout* seconds with
    what answered last.
    """
    from flubber.kvstore import AMQPConnectionError, AMQPKVClient

    started = time.monotonic()
    wanted = set(names) if names is not None else None
    client = AMQPKVClient(url)
    nodes = []
    try:
        while True:
            try:
                nodes = ping_nodes(url, timeout=ping_timeout, expect=None if wanted else count, client=client)
            except AMQPConnectionError:
                client.close()
                nodes = []
            answered = {node.get("name") for node in nodes}
            if (wanted is not None and wanted <= answered) or (wanted is None and len(answered) >= count):
                return nodes, time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError("%d of %d nodes answered on the broker within %g s: %s"
                                   % (len(answered), count, timeout, ", ".join(sorted(map(str, answered)))))
            gevent.sleep(interval)
    finally:
        client.close()


def format_uptime(seconds):
    """Return *seconds* as ``42s``, ``5m03s``, ``2h05m`` or ``3d04h``."""
    seconds = int(seconds or 0)
    if seconds < 60:
        return "%ds" % seconds
    if seconds < 3600:
        return "%dm%02ds" % divmod(seconds, 60)
    if seconds < 86400:
        return "%dh%02dm" % (seconds // 3600, seconds % 3600 // 60)
    return "%dd%02dh" % (seconds // 86400, seconds % 86400 // 3600)
