"""KVStore: a dripline provider whose endpoints are keys."""
import logging
import types

from flubber.kvstore._dripline import OP_CMD, OP_GET, OP_SET, Request
from flubber.kvstore._endpoint import Endpoint, new_lockout_key, resolve_target
from flubber.kvstore._exceptions import (
    AccessDenied, AMQPRoutingKeyError, ConfigError, InvalidValue, MethodNotSupported, NoActionWarning,
)
from flubber.kvstore import _dripline

logger = logging.getLogger(__name__)


class KVStore(Endpoint):
    """The KV store: a provider holding keys (its endpoints), addressed by name.

    :param name: the store's name (second word of ``node.store.key``).
    :param calibration: default calibration of keys added from a
        configuration that set none (a store has no value of its own).
    :param get_on_set: default ``get_on_set`` of such keys.
    :param endpoints: keys to add at once (see :meth:`add_endpoint`).
    :param alert_sinks: callables receiving every :class:`~flubber.kvstore.Alert`
        of the store's keys (see :mod:`flubber.kvstore.alerts`).

    Locking a store locks all its keys with the same key; see :meth:`lock`.
    :meth:`~flubber.kvstore.Endpoint.on_config` (and a get or set of
    ``STORE.calibration``) reads and rewrites *calibration* and *get_on_set*
    like any endpoint's; keys already added keep their own.
    """

    CMD_METHODS = Endpoint.CMD_METHODS | {"list_endpoints"}
    GET_ATTRIBUTES = Endpoint.GET_ATTRIBUTES | {"endpoint_names", "schedule_status", "logging_status"}
    SET_ATTRIBUTES = Endpoint.SET_ATTRIBUTES | {"schedule_status", "logging_status"}

    def __init__(self, name=None, calibration=None, get_on_set=False, endpoints=(), alert_sinks=()):
        if name is None:
            raise ConfigError("KVStore needs a name, e.g. KVStore(name='kv')")
        super().__init__(name, calibration=calibration, get_on_set=get_on_set)
        self._endpoints = {}
        self._table = {self.name: self}
        #: Callables receiving each alert of the store's keys.
        self.alert_sinks = list(alert_sinks)
        for endpoint in endpoints:
            self.add_endpoint(endpoint)

    # -- endpoints ----------------------------------------------------------------------
    def add_endpoint(self, endpoint):
        """Add a key (any :class:`~flubber.kvstore.Endpoint`); its name must be new on the store and node."""
        if not isinstance(endpoint, Endpoint):
            raise ConfigError("store %r: add_endpoint needs a KVStoreKey (or Endpoint), got %r" % (self.name, endpoint))
        if endpoint.name in self._endpoints or endpoint.name == self.name:
            raise ConfigError(
                "store %r already has an endpoint named %r; give each key a unique name" % (self.name, endpoint.name)
            )
        if endpoint.provider is not None and endpoint.provider is not self:
            raise ConfigError("%r already belongs to store %r" % (endpoint.name, endpoint.provider.name))
        if self.service is not None:
            self.service.register(endpoint, self)
        self._endpoints[endpoint.name] = endpoint
        self._table[endpoint.name] = endpoint
        endpoint.provider = self
        endpoint.service = self.service
        if self.is_locked and not endpoint.is_locked:
            endpoint._lockout_key = self._lockout_key
        return endpoint

    @property
    def endpoints(self):
        """The keys by name (a read-only mapping)."""
        return types.MappingProxyType(self._endpoints)

    @property
    def endpoint_names(self):
        """The names of the keys, in the order they were added."""
        return list(self._endpoints)

    def endpoint(self, endpoint):
        """Return the key named *endpoint*; raise :class:`AMQPRoutingKeyError` if there is none."""
        try:
            return self._endpoints[endpoint]
        except KeyError:
            raise AMQPRoutingKeyError(
                "store %r has no key %r; keys: %s" % (self.name, endpoint, ", ".join(self._endpoints) or "none")
            ) from None

    def list_endpoints(self):
        """Return the names of the keys (the same as :attr:`endpoint_names`)."""
        return self.endpoint_names

    # -- attributes: ``node.store.NAME`` with an unknown NAME is most often a mistyped key ----
    def _get_attribute(self, attribute):
        try:
            return super()._get_attribute(attribute)
        except InvalidValue as exc:
            raise self._no_such_key(attribute, exc) from None

    def _set_attribute(self, attribute, value):
        try:
            super()._set_attribute(attribute, value)
        except InvalidValue as exc:
            raise self._no_such_key(attribute, exc) from None

    def _no_such_key(self, attribute, exc):
        key = str(attribute).split(".")[0]
        return InvalidValue("%s has no key %r (keys: %s), and %s"
                            % (self.address, key, ", ".join(self._endpoints) or "none", exc))

    # -- lockout: the store's lock covers its keys ------------------------------------------
    def lock(self, lockout_key=None, *args, **kwargs):
        """Lock the store and every key with one key; return ``{"key": KEY}``.

        A key already locked with another key is an :class:`AccessDenied`
        (nothing is locked then): unlock it first.
        """
        key = _dripline.normalize_lockout_key(lockout_key) or new_lockout_key()
        for endpoint in self._endpoints.values():
            if endpoint.is_locked and endpoint.lockout_key != key:
                raise AccessDenied(
                    "cannot lock store %s: its key %s is locked with another lockout_key; unlock that first"
                    % (self.address, endpoint.name)
                )
        self._lockout_key = key
        for endpoint in self._endpoints.values():
            endpoint._lockout_key = key
        logger.info("%s locked with its %d keys", self.address, len(self._endpoints))
        return {"key": key}

    def unlock(self, *args, force=False, **kwargs):
        """Unlock the store and the keys locked with its key; with ``force=True`` every key."""
        key = self._lockout_key
        if key is None and not force:
            raise NoActionWarning("%s was not locked" % self.address)
        self._lockout_key = None
        for endpoint in self._endpoints.values():
            if force or endpoint.lockout_key == key:
                endpoint._lockout_key = None
        logger.info("%s unlocked%s", self.address, " (forced, with all keys)" if force else "")
        return None

    # -- operations on the store itself -----------------------------------------------------
    def on_set(self, *args, **kwargs):
        """A store has no value: set one of its keys (``STORE.KEY`` or ``KEY``) instead."""
        raise MethodNotSupported("%s is a store and has no value; set one of its keys: %s"
                                 % (self.address, ", ".join(self._endpoints) or "none"))

    def on_send(self, *commands):
        """Handle a send request: pass the commands to :meth:`send`."""
        return self.send(list(commands))

    def send(self, to_send):
        """Send raw commands to the device behind the provider; a KV store has none and only logs them."""
        logger.info("%s asked to send %r (a KV store has no device; ignored)", self.address, to_send)
        return None

    def set_condition(self, *args, **kwargs):
        """Pass a condition to every key's :meth:`~flubber.kvstore.KVStoreKey.set_condition`."""
        for endpoint in self._endpoints.values():
            endpoint.set_condition(*args, **kwargs)
        return None

    @property
    def schedule_status(self):
        """``{key name: running}`` for keys with a schedule; set it to start/stop all of them."""
        return {name: endpoint.schedule_status for name, endpoint in self._endpoints.items()
                if getattr(endpoint, "schedule_interval", 0) > 0}

    @schedule_status.setter
    def schedule_status(self, value):
        for endpoint in self._endpoints.values():
            if getattr(endpoint, "schedule_interval", 0) > 0:
                endpoint.schedule_status = value

    def start(self):
        """Start the scheduled reads of every key that has a schedule_interval."""
        for endpoint in self._endpoints.values():
            if hasattr(endpoint, "start"):
                endpoint.start()

    def stop(self):
        """Stop every key's scheduled reads."""
        for endpoint in self._endpoints.values():
            if hasattr(endpoint, "stop"):
                endpoint.stop()

    # -- alerts -------------------------------------------------------------------------------
    def add_alert_sink(self, sink):
        """Send every alert of this store's keys to *sink* (a callable taking an Alert)."""
        self.alert_sinks.append(sink)
        return sink

    def send_alert(self, alert):
        """Deliver *alert* to the store's sinks, then the node's. A failing sink is logged and skipped."""
        for sink in self.alert_sinks:
            try:
                sink(alert)
            except Exception:  # one broken sink must not stop the others
                logger.exception("%s: alert sink %r failed", self.address, sink)
        if self.service is not None:
            self.service.send_alert(alert)

    # -- requests to other endpoints (dripline's provider API) ----------------------------------
    def _send_request(self, target, msgop, payload, timeout, ignore_retcode, lockout_key=None):
        request = Request(target, msgop, payload, lockout_key=lockout_key or None)
        if self.service is not None:
            reply = self.service.request(request, timeout=timeout)
        else:
            try:
                endpoint, specifier = resolve_target(self._table, target)
            except AMQPRoutingKeyError as exc:
                reply = _dripline.Reply(exc.retcode, str(exc))
            else:
                reply = endpoint.handle(request, specifier)
        return _dripline.reply_result(reply, ignore_retcode)

    def get(self, target, timeout=None, ignore_retcode=False):
        """Get *target* (a key name, ``node.store.key``, optionally ``.ATTRIBUTE``); return the reply payload.

        Local targets are answered directly; others go through the node's
        broker connection. An error retcode raises its exception unless
        *ignore_retcode*.
        """
        return self._send_request(target, OP_GET, {"values": []}, timeout, ignore_retcode)

    def set(self, target, value, lockout_key=False, timeout=None, ignore_retcode=False):
        """Set *target* to *value*; return the reply payload (see :meth:`get`)."""
        return self._send_request(target, OP_SET, {"values": [value]}, timeout, ignore_retcode, lockout_key)

    def cmd(self, target, method_name, value=(), payload=None, lockout_key=False, timeout=None,
            ignore_retcode=False):
        """Call *method_name* of *target* with positional *value* and keyword *payload*; return the reply payload."""
        target, body = _dripline.cmd_request(target, method_name, value, payload)
        return self._send_request(target, OP_CMD, body, timeout, ignore_retcode, lockout_key)


#: The seed's name of :class:`KVStore` (``module: kv_store`` in YAML).
kv_store = KVStore
