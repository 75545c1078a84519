"""``/api/status``: what runs in the node and how it is doing.

:class:`NodeStatus` adds to the node's own :meth:`~flubber.node.LabNode.status`
what a status panel needs: whether the logger's database is up and since when,
the KV transports' clients, and the web server's own clients.
"""
import time

__all__ = ["NodeStatus"]


class NodeStatus:
    """The status of *node* for the page; :meth:`observe` runs after every sample.

    :param node: the :class:`~flubber.node.LabNode`.
    :param clock: wall clock (seconds since the epoch).
    """

    def __init__(self, node, clock=time.time):
        self.node = node
        self.clock = clock
        self._database = (None, None)  # (up, since)

    def observe(self):
        """Note when the logger's database went up or down (called a few times a second)."""
        logger = getattr(self.node, "logger", None)
        if logger is None:
            return
        up = logger.status().get("state") == "connected"
        if up != self._database[0]:
            self._database = (up, self.clock())

    def report(self, web=None):
        """Return the JSON status: node, uptime, instruments, logger, sockets, KV transports, web."""
        self.observe()
        status = dict(self.node.status())
        status["time"] = self.clock()
        logger = status.get("logger")
        if logger is not None:
            up, since = self._database
            status["logger"] = dict(logger, database="up" if up else "down", database_since=since)
        server = self.node.server
        transports = {"requests": self.node.kv.requests_handled}
        tcp = getattr(server, "tcp_server", None)
        if tcp is not None:
            transports["tcp"] = {"address": list(server.tcp_address), "clients": len(tcp.connections)}
        amqp = getattr(server, "amqp_service", None)
        if amqp is not None:
            transports["amqp"] = {"queue": getattr(amqp, "queue", None),
                                  "connections_made": getattr(amqp, "connections_made", None)}
        status["kv"] = transports
        if web is not None:
            status["web"] = web
        return status
