"""The optional parts a lab node starts: logger, push socket sets, web page, alarm board.

Each function here builds one part of :class:`~flubber.node.LabNode` from
its node-file section; the node starts and stops them (:mod:`flubber.node`).
The parts' own packages are imported only by the nodes that have them.
"""
from flubber.kvstore import OP_SET, AMQPRoutingKeyError, Alert, InvalidValue, KVStoreKey, Request

__all__ = ["PushSetter", "make_alarm_board", "make_logger", "make_web"]


def make_logger(settings, codenames, start_timeout):
    """Return the :class:`~flubber.loggers.ContinuousLogger` of the ``logger`` section (not started).

    None without a section or without a *codename* to log.
    """
    if settings is None or not codenames:
        return None
    from flubber.loggers import ContinuousLogger  # only nodes that log need the database layer

    options = {key: settings[key] for key in ("spool", "max_queue") if settings.get(key) is not None}
    return ContinuousLogger(
        settings["table"], settings.get("username"), settings.get("password"), codenames,
        url=settings["url"], create_tables=bool(settings.get("create_tables")),
        start_timeout=start_timeout, **options)


def make_web(node, settings, tokens, series, alarms):
    """Return the node's :class:`~flubber.web.WebServer` (not started) and its alarm listener (or None).

    *series* is ``(url, table)`` of the logger's database, or None.
    """
    from flubber.web import WebServer  # only nodes with a page load the web layer

    web = WebServer(node, host=settings["host"], port=settings["port"], writable=settings["writable"],
                    tokens=tokens, series=series)
    listener = None
    if alarms is not None:
        from flubber.alarms.web import attach

        listener = attach(web, alarms)
    return web, listener


def make_alarm_board(kv, sections, read, value, clock):
    """The alarm board of the ``alarms`` section, its history table (beside the logger's) and KV store ``alarms``.

    *read* holds the codenames the node's instruments feed; any other alarm
    samples the KV key of its name with *value* (the node's
    :meth:`~flubber.node.LabNode.value`). Changes go out as dripline alerts
    ``alarm.NODE.NAME`` (the AMQP transport publishes them).
    """
    from flubber.alarms import AlarmBoard, AlarmHistory, AlarmsStore  # only nodes with alarms load them

    def sampler(address):
        def sample():
            reading = value(address)
            return reading if isinstance(reading, (int, float)) and not isinstance(reading, bool) else None
        return sample

    def publish(change):
        kv.send_alert(Alert("alarm.%s.%s" % (kv.name, change.alarm.name),
                            dict(change.snapshot, node=kv.name, time=change.time),
                            unixtime=change.time, name="alarm." + change.alarm.name))

    samplers = {name: sampler(name) for name in sections.alarms if name not in read}
    history = None
    if sections.logger is not None:
        history = AlarmHistory(sections.logger["url"], node=kv.name)
    board = AlarmBoard(kv.name, sections.alarms, channels=sections.notify, history=history,
                       publish=publish, samplers=samplers, clock=clock)
    kv.add_store(AlarmsStore(board))
    return board


class PushSetter:
    """The push socket's callback: set the KV keys named in pushed data, as dripline sets would.

    :param kv: the node's :class:`~flubber.kvstore.KVNode`.
    :param writable: the keys that may be pushed (``sockets.push.writable``).
    """

    def __init__(self, kv, writable):
        self.kv = kv
        self.writable = writable

    def __call__(self, data):
        """Set the KV keys of *data* (``{"setpoint": 40}``); return their sorted names.

        Only the :attr:`writable` keys may be pushed; each value goes through
        the key's checks and its lock exactly as a set over TCP or AMQP.
        Every key is checked before any is set: a refusal
        (:class:`~flubber.sockets.PushRefused`, an ``ERROR#`` reply) changes
        nothing.
        """
        from flubber.sockets import PushRefused  # loaded with the push socket already

        writable = self.writable
        planned = []
        for address, value in data.items():
            try:
                endpoint, specifier = self.kv.resolve(address)
            except AMQPRoutingKeyError:
                raise PushRefused("no key %r on node %s" % (address, self.kv.name)) from None
            if specifier or not isinstance(endpoint, KVStoreKey):
                raise PushRefused("%r is not a key; the push socket sets keys by name" % (address,))
            if endpoint.name not in writable and endpoint.address not in writable:
                raise PushRefused("key %s is not writable through the push socket; writable: %s (sockets.push "
                                  "writable in the node file)" % (endpoint.name, ", ".join(writable) or "none"))
            if endpoint.is_locked:
                raise PushRefused("key %s is locked (cmd %s lock); the push socket has no lockout key: set it "
                                  "with flubber set --lockout-key, or unlock it" % (endpoint.name, endpoint.name))
            try:
                endpoint.check_value(endpoint.rule.check(value))  # its type and bounds, then its calibration
            except InvalidValue as exc:
                raise PushRefused(str(exc)) from None
            planned.append((endpoint.address, value))
        for address, value in planned:
            reply = self.kv.handle(Request(address, OP_SET, {"values": [value]}))
            if not reply.ok:
                raise PushRefused("%s: %s" % (address, reply.return_msg))
        return sorted(data)
