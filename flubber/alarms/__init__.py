"""Alarms: limits on every value, states everywhere, notifications that reach a person.

A node file's ``alarms:`` section gives a codename or KV key EPICS-style
limits (``high``/``hihi`` above, ``low``/``lolo`` below, ``deadband``,
``delay``, ``stale``); ``notify:`` names who hears about it (a program, a
webhook, an e-mail). The node feeds every reading to an :class:`AlarmBoard`,
which keeps each :class:`Alarm`'s state (:class:`Severity` OK, MINOR, MAJOR,
INVALID; acknowledged or not), writes every change to an
:class:`AlarmHistory` table, publishes it as a dripline alert
(``alarm.NODE.NAME``) and queues one notification per change on each
:class:`NotificationChannel` that wants it::

    from flubber.alarms import AlarmBoard, AlarmLimits, NotificationChannel, WebhookTarget

    board = AlarmBoard("lab", {"temperature": AlarmLimits(high=80, hihi=120, deadband=1, delay=5)},
                       channels=[NotificationChannel(WebhookTarget("http://127.0.0.1:9999/hook"))])
    board.start()
    board.update("temperature", 125.0)   # MAJOR after 5 s beyond the limit

The parts: :mod:`flubber.alarms.states` (the state machine),
:mod:`flubber.alarms.board`, :mod:`flubber.alarms.notify` (targets and
channels), :mod:`flubber.alarms.history`, :mod:`flubber.alarms.endpoint`
(the ``alarms`` KV store), :mod:`flubber.alarms.web` (the page's panel and API) and
:mod:`flubber.alarms.config` (the node-file
sections).
"""
from flubber.alarms.board import AlarmBoard, UnknownAlarmError
from flubber.alarms.endpoint import ALARMS_STORE, AlarmsStore
from flubber.alarms.config import ALARM_OPTIONS, NOTIFY_OPTIONS, parse_alarms, parse_notify
from flubber.alarms.history import HISTORY_TABLE, AlarmHistory
from flubber.alarms.notify import (
    CommandTarget, EmailTarget, NotificationChannel, NotificationError, NotificationTarget, WebhookTarget,
    notification_json,
)
from flubber.alarms.states import Alarm, AlarmChange, AlarmLimits, Severity

__all__ = [
    "Severity", "AlarmLimits", "Alarm", "AlarmChange", "AlarmBoard", "UnknownAlarmError",
    "AlarmHistory", "HISTORY_TABLE",
    "NotificationTarget", "CommandTarget", "WebhookTarget", "EmailTarget", "NotificationChannel",
    "NotificationError", "notification_json",
    "AlarmsStore", "ALARMS_STORE",
    "ALARM_OPTIONS", "NOTIFY_OPTIONS", "parse_alarms", "parse_notify",
]
