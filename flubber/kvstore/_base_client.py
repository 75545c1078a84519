"""The client base: :class:`KVClient` offers get/set/cmd/lock on any transport.

A transport (:class:`~flubber.kvstore.TCPKVClient`,
:class:`~flubber.kvstore.AMQPKVClient`) implements :meth:`KVClient.send_request`.
"""
from flubber.kvstore import _dripline
from flubber.kvstore._dripline import OP_CMD, OP_GET, OP_SET, Request


class KVClient:
    """What every client offers; a transport implements :meth:`send_request`.

    :param timeout: default seconds to wait for a reply.
    """

    #: Default seconds to wait for a reply.
    timeout = 10.0

    def __init__(self, timeout=None):
        if timeout is not None:
            self.timeout = timeout
        self._sender_info = _dripline.sender_info("client")

    def send_request(self, request, timeout=None):  # pragma: no cover - abstract
        """Send a :class:`~flubber.kvstore.Request`; return the :class:`~flubber.kvstore.Reply`."""
        raise NotImplementedError

    def close(self):
        """Release the connection (a closed client reconnects on its next request)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def request(self, target, msgop, payload=None, lockout_key=None, timeout=None):
        """Send one request and return the :class:`~flubber.kvstore.Reply` (never raises for a retcode).

        :param target: endpoint name or ``node.store.key``, optionally ``.SPECIFIER``.
        :param msgop: :data:`~flubber.kvstore.OP_GET`, :data:`~flubber.kvstore.OP_SET`, ...
        :raises TransportError: the server cannot be reached.
        :raises RequestTimeout: no reply within *timeout*.
        """
        request = Request(target, msgop, payload if payload is not None else {"values": []},
                          lockout_key=lockout_key or None, timestamp=_dripline.format_timestamp(),
                          sender_info=self._sender_info)
        return self.send_request(request, timeout=timeout)

    def get(self, target, timeout=None, ignore_retcode=False):
        """Get *target*; return the reply payload (``{"value_raw": ..., "value_cal": ...}`` for a key)."""
        return _dripline.reply_result(self.request(target, OP_GET, {"values": []}, timeout=timeout), ignore_retcode)

    def set(self, target, value, lockout_key=None, timeout=None, ignore_retcode=False):
        """Set *target* to *value* (sent as given); return the reply payload."""
        return _dripline.reply_result(self.request(target, OP_SET, {"values": [value]}, lockout_key, timeout), ignore_retcode)

    def cmd(self, target, method_name, value=(), payload=None, lockout_key=None, timeout=None,
            ignore_retcode=False):
        """Call *method_name* on *target* with positional *value* and keyword *payload*; return the payload."""
        target, body = _dripline.cmd_request(target, method_name, value, payload)
        return _dripline.reply_result(self.request(target, OP_CMD, body, lockout_key, timeout), ignore_retcode)

    def value(self, target, timeout=None):
        """Return the value of key *target*: ``value_cal`` when calibrated, else ``value_raw``."""
        payload = self.get(target, timeout=timeout)
        if "value_cal" in payload:
            return payload["value_cal"]
        if "value_raw" in payload:
            return payload["value_raw"]
        values = payload.get("values")
        return values[0] if values else None

    def lock(self, target, lockout_key=None, timeout=None):
        """Lock *target*; return the lockout key."""
        return self.cmd(target, "lock", lockout_key=lockout_key, timeout=timeout)["key"]

    def unlock(self, target, lockout_key=None, force=False, timeout=None):
        """Unlock *target* with its *lockout_key*, or with ``force=True``."""
        payload = {"force": True} if force else None
        return self.cmd(target, "unlock", payload=payload, lockout_key=lockout_key, timeout=timeout,
                        ignore_retcode=False)

    def ping(self, target, timeout=None):
        """Ping *target*; raise unless it answers."""
        return self.cmd(target, "ping", timeout=timeout)
