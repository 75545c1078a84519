"""KVNode: the stores of one process, addressed by name and by ``node.store.key`` (no I/O).

The node owns the address table both transports use. A target (TCP) or
routing key (AMQP) is resolved to the longest known address it starts with;
the rest is the specifier::

    setpoint                 -> key setpoint
    setpoint.calibration     -> key setpoint, attribute calibration
    lab.kv.setpoint.lock     -> key setpoint (by address), method lock
    kv.list_endpoints        -> store kv, method list_endpoints

The node answers for itself too, under its name and under
:data:`~flubber.kvstore.BROADCAST_KEY` (``broadcast``, which every node on a
broker is bound to): ``cmd lab ping`` / ``cmd broadcast ping`` and ``get
lab`` reply with :meth:`KVNode.info` (name, host, pid, uptime, keys,
version); ``flubber nodes`` lists a broker's nodes that way.
"""
import logging
import os
import time

from flubber._lifecycle import Service
from flubber.kvstore import _dripline
from flubber import __version__
from flubber.kvstore._dripline import BROADCAST_KEY, OP_CMD, OP_GET, Reply
from flubber.kvstore._endpoint import check_name, resolve_target
from flubber.kvstore._exceptions import AMQPRoutingKeyError, ConfigError, DriplineError, MethodNotSupported

logger = logging.getLogger(__name__)


class KVNode(Service):
    """A named set of KV stores that answers dripline requests.

    :param name: the node name, first word of ``node.store.key`` (None: no
        hierarchical addresses).
    :param stores: :class:`~flubber.kvstore.KVStore` objects to serve.
    :param alert_sinks: callables receiving every alert of every store.

    :meth:`start` and :meth:`stop` run the stores' scheduled reads, with
    flubber's one lifecycle (:doc:`/lifecycle`); requests are answered
    whether or not it runs.
    """

    def __init__(self, name="flubber", stores=(), alert_sinks=()):
        #: The node name.
        self.name = check_name(name, "node") if name is not None else None
        #: ``sender_info`` of every reply this node sends.
        self.sender_info = _dripline.sender_info(self.name or "")
        self._sender_info_json = _dripline.encode_json(self.sender_info).decode("utf-8")
        #: Callables receiving every alert (the AMQP transport adds one).
        self.alert_sinks = list(alert_sinks)
        #: A client used for targets this node does not serve (set by the AMQP transport), or None.
        self.remote = None
        #: Requests answered by :meth:`handle` and :meth:`handle_message` (for status displays).
        self.requests_handled = 0
        #: Callables returning a dict merged into :meth:`info` (a lab node adds its instruments).
        self.info_sources = []
        #: When :meth:`start` last ran (unix time), or None.
        self.started_at = None
        self._stores = {}
        self._table = {}
        for store in stores:
            self.add_store(store)

    # -- addresses ------------------------------------------------------------------------
    @property
    def stores(self):
        """The stores by name."""
        return dict(self._stores)

    @property
    def addresses(self):
        """Every address this node answers for (names and ``node.store[.key]``), sorted."""
        return sorted(self._table)

    @property
    def endpoint_names(self):
        """The plain names (stores and keys): the first words of routing keys this node serves."""
        return sorted(address for address in self._table if "." not in address)

    def _addresses_of(self, endpoint, store):
        addresses = [endpoint.name]
        if self.name:
            if endpoint is store:
                addresses.append(self.name + "." + store.name)
            else:
                addresses.append(self.name + "." + store.name + "." + endpoint.name)
        return addresses

    def register(self, endpoint, store):
        """Add the addresses of *endpoint* (in *store*); raise :class:`ConfigError` on a duplicate name."""
        for address in self._addresses_of(endpoint, store):
            if address in self._table:
                other = self._table[address]
                raise ConfigError(
                    "node %r: the name %r is used twice (%s and %s); endpoint names must be unique on a node"
                    % (self.name, address, other.address, store.name + "." + endpoint.name)
                )
        for address in self._addresses_of(endpoint, store):
            self._table[address] = endpoint
        endpoint.service = self

    def add_store(self, store):
        """Serve *store* and its keys; names must be unique across the node."""
        if store.name in self._stores:
            raise ConfigError("node %r already has a store named %r" % (self.name, store.name))
        names = [store.name] + list(store.endpoint_names)
        clashes = [name for name in names if name in self._table] + [
            name for name in set(names) if names.count(name) > 1]
        if clashes:
            raise ConfigError(
                "node %r: the name(s) %s of store %r are already used on this node; endpoint names must be "
                "unique on a node" % (self.name, ", ".join(sorted(set(clashes))), store.name)
            )
        store.service = self
        self.register(store, store)
        for endpoint in store.endpoints.values():
            self.register(endpoint, store)
        self._stores[store.name] = store
        return store

    def resolve(self, target):
        """Return ``(endpoint, specifier)`` for *target*; raise :class:`AMQPRoutingKeyError` (102)."""
        return resolve_target(self._table, target)

    def endpoint(self, address):
        """Return the endpoint at *address* exactly (a name or ``node.store.key``)."""
        try:
            return self._table[address]
        except KeyError:
            raise AMQPRoutingKeyError("no endpoint at %r; addresses: %s" % (address, ", ".join(self.addresses)))

    # -- requests ---------------------------------------------------------------------------
    def handle(self, request):
        """Answer *request* (a :class:`~flubber.kvstore.Request`) from the local endpoints."""
        self.requests_handled += 1
        try:
            endpoint, specifier = resolve_target(self._table, request.target)
        except AMQPRoutingKeyError as exc:
            first, _, rest = request.target.partition(".")
            if first == BROADCAST_KEY or (first == self.name and first):
                return self._handle_own(request, rest)
            return Reply(exc.retcode, "%s (node %s)" % (exc, self.name), correlation_id=request.correlation_id,
                         sender_info=self.sender_info)
        return endpoint.handle(request, specifier)

    def _handle_own(self, request, specifier):
        """Answer a request to the node itself (``NAME`` or ``broadcast``, then *specifier*)."""
        if (request.msgop == OP_CMD and specifier == "ping") or (request.msgop == OP_GET and specifier == ""):
            return Reply(0, "node %s is alive" % self.name, payload=self.info(),
                         correlation_id=request.correlation_id, sender_info=self.sender_info)
        error = MethodNotSupported(
            "node %s answers for itself only `cmd %s ping` and `get %s` (its info); a key is "
            "%s.STORE.KEY" % (self.name, self.name, self.name, self.name))
        return Reply(error.retcode, str(error), correlation_id=request.correlation_id, sender_info=self.sender_info)

    def info(self):
        """Return what the node says of itself to a ping (JSON-ready).

        ``name``, ``host``, ``pid``, ``uptime`` (seconds since :meth:`start`,
        0 when not started), ``keys`` (how many), ``stores`` (their names),
        ``version`` (flubber's) and ``requests`` answered, plus what each of
        :attr:`info_sources` adds.
        """
        keys = sum(1 for address in self._table if "." not in address and address not in self._stores)
        info = {"name": self.name, "host": self.sender_info.get("hostname", ""), "pid": os.getpid(),
                "uptime": round(time.time() - self.started_at, 3) if self.started_at and self.running else 0.0,
                "keys": keys, "stores": sorted(self._stores), "version": __version__,
                "requests": self.requests_handled}
        for source in self.info_sources:
            try:
                info.update(source())
            except Exception:  # a ping must be answered whatever a source does
                logger.exception("node %s: info source %r failed", self.name, source)
        return info

    def handle_message(self, data, target=None, authorize=None):
        """Decode one request (JSON bytes), answer it, return the encoded reply (bytes, no newline).

        *target* is the AMQP routing key (None on TCP, where the message has
        a ``target`` field). Undecodable requests get a 302/303 reply; the
        request's ``correlation_id`` is echoed whenever it could be read.
        *authorize*, when given, is called with the decoded
        :class:`~flubber.kvstore.Request` before it runs; the
        :class:`~flubber.kvstore.DriplineError` it raises (an
        :class:`~flubber.kvstore.AccessDenied`) becomes the reply.
        """
        message = None
        try:
            message = _dripline.decode_json_object(data)
            request = _dripline.Request.from_dict(message, target=target)
            if authorize is not None:
                authorize(request)
        except DriplineError as exc:
            self.requests_handled += 1
            correlation_id = message.get("correlation_id") if message is not None else None
            reply = Reply(exc.retcode, str(exc), correlation_id=correlation_id, sender_info=self.sender_info)
            return reply.encode(self._sender_info_json)
        return self.handle(request).encode(self._sender_info_json)

    def request(self, request, timeout=None):
        """Answer *request* locally if this node serves its target, else through :attr:`remote`."""
        try:
            endpoint, specifier = resolve_target(self._table, request.target)
        except AMQPRoutingKeyError as exc:
            if self.remote is None:
                return Reply(exc.retcode, "%s (node %s has no broker connection)" % (exc, self.name))
            return self.remote.send_request(request, timeout=timeout)
        return endpoint.handle(request, specifier)

    # -- alerts and schedules -------------------------------------------------------------------
    def add_alert_sink(self, sink):
        """Send every alert of every store to *sink* (a callable taking an Alert)."""
        self.alert_sinks.append(sink)
        return sink

    def remove_alert_sink(self, sink):
        """Stop sending alerts to *sink*."""
        self.alert_sinks.remove(sink)

    def send_alert(self, alert):
        """Deliver *alert* to every node sink; a failing sink is logged and skipped."""
        if alert.sender_info is None:
            alert.sender_info = self.sender_info
        for sink in self.alert_sinks:
            try:
                sink(alert)
            except Exception:  # one broken sink must not stop the others
                logger.exception("node %s: alert sink %r failed", self.name, sink)

    def start(self):
        """Start the scheduled reads of every store; return the node."""
        return super().start()

    def _start(self):
        self.started_at = time.time()
        for store in self._stores.values():
            store.start()

    def stop(self, timeout=None):
        """Stop the scheduled reads of every store. Idempotent; nothing here waits."""
        return super().stop(timeout)

    def _stop(self, timeout):
        for store in self._stores.values():
            store.stop()

    def __repr__(self):
        return "<KVNode %s: %s>" % (self.name, ", ".join(self._stores) or "no stores")
