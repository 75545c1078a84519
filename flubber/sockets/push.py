"""The push socket: receive data from the network over UDP (default port 8500).

Clients send ``json_wn#{"codename": value, ...}`` or
``raw_wn#codename:type:v1,v2;...`` (types int, float, str, bool). Every
request is stored (:attr:`DataPushSocket.last`,
:attr:`DataPushSocket.updated`) and, by the socket's *action*, also::

    'store_last'       nothing more; the reply is ACK#<data>
    'enqueue'          put in :attr:`DataPushSocket.queue`; reply ACK#<data>
    'callback_async'   the callback gets it in the socket's callback
                       greenlet, in order; reply ACK#<data>
    'callback_direct'  the callback gets it and its return value is the
                       reply: RET#<value> (as return_format says),
                       EXCEP#<message> when it raises, or
                       ERROR#<message> when it raises PushRefused (the
                       data is then forgotten: last and updated unchanged)

A request the socket cannot use gets ``ERROR#<why>``. The parsing and the
reply formats live in :class:`~flubber.sockets.PushProtocol`.

Requests are handled in order by one worker greenlet per socket (the
callback may block cooperatively, e.g. talk to an instrument); the hub only
queues them. Example::

    from flubber.sockets import DataPushSocket

    def set_voltage(data):
        supply.set_voltage(data["voltage"])
        return supply.read_voltage()

    push = DataPushSocket("power supply control", action="callback_direct",
                          callback=set_voltage)
    push.start()
"""
import logging

import gevent
import gevent.queue

from flubber.sockets._exceptions import PushRefused, SocketConfigurationError
from flubber.sockets._protocol import PUSH_ACTIONS
from flubber.sockets._push_protocol import PushProtocol
from flubber.sockets._status import full_status
from flubber.sockets._transport import UDPSocketBase

LOG = logging.getLogger(__name__)


def _check_action(action, queue, callback):
    """Raise SocketConfigurationError unless the arguments fit together."""
    if action not in PUSH_ACTIONS:
        raise SocketConfigurationError(
            "action %r is not one of %s" % (action, ", ".join(PUSH_ACTIONS)))
    if queue is not None and action != "enqueue":
        raise SocketConfigurationError(
            "queue %r can only be given with action 'enqueue', not %r" % (queue, action))
    if callback is not None and not action.startswith("callback_"):
        raise SocketConfigurationError(
            "callback %r can only be given with action 'callback_async' or "
            "'callback_direct', not %r" % (callback, action))
    if action.startswith("callback_") and not callable(callback):
        raise SocketConfigurationError(
            "callback %r for action %r is not callable; pass a function taking the data dict"
            % (callback, action))


class DataPushSocket(UDPSocketBase):
    """Receive data pushed over UDP and store, enqueue or hand it to a callback.

    :param str name: the socket's name (``name`` is answered ``RET#name``).
    :param int port: UDP port, 8500 by default; 0 picks a free one.
    :param str action: ``'store_last'`` (default), ``'enqueue'``,
        ``'callback_async'`` or ``'callback_direct'`` (see the module).
    :param queue: with ``'enqueue'``, a queue to put the data in instead of a
        new unbounded :class:`gevent.queue.Queue`. Anything with
        ``put_nowait`` or ``put``; when it is full the client gets
        ``ERROR#``.
    :param callable callback: with the callback actions, called with the
        data dict.
    :param str return_format: with ``'callback_direct'``, how the return
        value is sent: ``'json'`` (default), ``'raw'`` or ``'string'``.
    :param bool check_activity: whether ``status`` reports the socket
        ``'INACTIVE'`` after *activity_timeout* seconds without a
        :meth:`poke` (only pokes count as activity here).
    :param float activity_timeout: see *check_activity*.
    :param str host: address to bind, ``''`` (every IPv4 interface) by default.
    :param callable clock: the unix time source for activity and the data's
        time stamps; by default one that reads :func:`time.time` at each call.

    :raises SocketConfigurationError: (a :class:`ValueError`) when action,
        queue, callback and return_format do not fit together.
    :raises PortInUseError: when the port is taken. Nothing is left behind.
    """

    #: Requests that may wait for the worker greenlet; more get ``ERROR#busy``. With
    #: ``callback_async``, also the data that may wait for the callback; more get ``ERROR#``.
    max_pending_requests = 1024
    #: Seconds :meth:`stop` lets ``callback_async`` finish queued data.
    stop_timeout = 1.0

    def __init__(self, name, port=8500, action="store_last", queue=None, callback=None,
                 return_format="json", check_activity=False, activity_timeout=900, *, host="",
                 clock=None):
        _check_action(action, queue, callback)
        #: The protocol state: parsing, last/updated, reply formats.
        self.protocol = PushProtocol(name, return_format=return_format,
                                     check_activity=check_activity,
                                     activity_timeout=activity_timeout,
                                     status_source=full_status, clock=clock,
                                     max_request_size=self.max_request_size)
        #: The action taken on received data.
        self.action = action
        self._callback = callback
        self._queue = None
        if action == "enqueue":
            self._queue = gevent.queue.Queue() if queue is None else queue
        elif action == "callback_async":  # bounded: a flood faster than the callback gets ERROR# replies
            self._queue = gevent.queue.Queue(self.max_pending_requests)
        self._requests = gevent.queue.Queue()
        self._worker = None
        self._callback_greenlet = None
        super().__init__(host, port)

    @property
    def return_format(self):
        """How ``callback_direct`` return values are sent."""
        return self.protocol.return_format

    @property
    def queue(self):
        """The queue of received data with ``'enqueue'`` and ``'callback_async'``, else None."""
        return self._queue

    @property
    def last(self):
        """``(unix time, copy of the data)`` of the last request, ``(None, None)`` before one."""
        last = self.protocol.last
        return self.protocol.last_time, (None if last is None else dict(last))

    @property
    def updated(self):
        """``(unix time, dict)`` of the newest value of every codename ever received.

        ``(None, {})`` before the first request.
        """
        return self.protocol.updated_time, dict(self.protocol.updated)

    def data_entry(self):
        """This socket's entry of :data:`flubber.sockets.DATA` (a copy, as PyExpLabSys laid it out)."""
        last_time, last = self.last
        updated_time, updated = self.updated
        return {
            "type": "push", "name": self.name, "action": self.action,
            "last": last, "last_time": last_time, "updated": updated, "updated_time": updated_time,
            "activity": self.protocol.activity.as_dict(),
        }

    def set_last_to_none(self):
        """Forget the last data: :attr:`last` becomes ``(None, None)``."""
        self.protocol.set_last_to_none()

    def clear_updated(self):
        """Forget all updated data: :attr:`updated` becomes ``(None, {})``."""
        self.protocol.clear_updated()

    # -- serving -------------------------------------------------------

    def _on_start(self):
        self._worker = gevent.spawn(self._work)
        if self.action == "callback_async":
            self._callback_greenlet = gevent.spawn(self._call_back)

    def _on_stop(self):
        current = gevent.getcurrent()
        worker, self._worker = self._worker, None
        if worker is not None and worker is not current:
            worker.kill(block=False)
        callbacks, self._callback_greenlet = self._callback_greenlet, None
        if callbacks is not None and callbacks is not current:
            try:  # the queue is bounded: a hung callback with a full queue must not hold stop()
                self._queue.put(_STOP, timeout=self.stop_timeout)
            except gevent.queue.Full:
                pass
            callbacks.join(self.stop_timeout)
            callbacks.kill(block=False)
            left = [item for item in _drain(self._queue) if item is not _STOP]
            if left:
                LOG.warning("%s stopped with %d data items its callback did not get to",
                            self, len(left))
        self._requests = gevent.queue.Queue()

    def _on_datagram(self, request, address):
        """In the hub: hand the request to the worker greenlet."""
        self._stats.requests += 1
        pending = self._requests.qsize()
        if pending >= self.max_pending_requests:
            self._send(self.protocol.busy(pending), address)
            return
        self._requests.put_nowait((request, address))

    def _work(self):
        """Worker greenlet: answer the requests in the order they came."""
        requests = self._requests
        me = gevent.getcurrent()
        while self._worker is me:       # stop() from inside a callback ends the loop
            request, address = requests.get()
            try:
                reply = self._answer(request)
            except Exception:  # noqa: BLE001 - a bug must cost one reply, not the server
                self._stats.errors += 1
                LOG.exception("%s failed to answer %r from %s", self, request[:200], address)
                reply = b"ERROR#internal error in the push socket; see its log"
            self._send(reply, address)

    def _answer(self, request):
        reply, data = self.protocol.parse(request)
        if data is None:
            return reply
        if self.action == "callback_direct":
            undo = self.protocol.store(data)
            try:
                value = self._callback(data)
            except PushRefused as exc:
                undo()
                LOG.debug("%s callback refused %r: %s", self, data, exc)
                return self.protocol.error(str(exc))
            except Exception as exc:  # noqa: BLE001 - the client is told what the callback raised
                LOG.debug("%s callback raised %r", self, exc)
                return self.protocol.callback_failed(exc)
            return self.protocol.format_return(value)
        self.protocol.store(data)
        if self._queue is not None:
            put = getattr(self._queue, "put_nowait", None) or self._queue.put
            try:
                put(data)
            except Exception as exc:  # noqa: BLE001 - queue.Full of any queue flavour
                return self.protocol.error(
                    "the queue did not take the data (%s); is anybody emptying it?"
                    % (type(exc).__name__,))
        return self.protocol.ack(data)

    def _call_back(self):
        """Callback greenlet of ``'callback_async'``: call back in order."""
        while True:
            data = self._queue.get()
            if data is _STOP:
                return
            try:
                self._callback(data)
            except Exception:  # noqa: BLE001 - one bad item must not stop the callbacks
                LOG.exception("%s: callback %r raised on %r", self, self._callback, data)


_STOP = object()


def _drain(queue):
    """Return every item left in the gevent *queue*, emptying it."""
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items
