"""The node file's ``alarms:`` and ``notify:`` sections.

::

    alarms:
      - codename: temperature   # or key: setpoint (a KV key)
        high: 80                # MINOR above
        hihi: 120               # MAJOR above
        low: 5                  # MINOR below
        lolo: 0                 # MAJOR below
        deadband: 1.0           # leave a state only this far back inside the limit
        delay: 5                # seconds beyond a limit before the alarm is raised
        stale: 10               # seconds without a reading -> INVALID
    notify:
      - command: [/usr/local/bin/page-oncall, --lab, b305]
        min_severity: MAJOR
      - webhook: https://chat.example.org/hooks/abc
        min_severity: MINOR
        repeat: 600             # remind every 10 min while unacknowledged
      - email: {to: [ops@example.org], from: flubber@example.org, smtp: mail.example.org:25}

:func:`parse_alarms` and :func:`parse_notify` check these and return the
pieces of an :class:`~flubber.alarms.AlarmBoard`.
"""
import math

from flubber._config import NOWHERE, check_mapping, positive_seconds, suggest
from flubber.alarms.notify import CommandTarget, EmailTarget, NotificationChannel, WebhookTarget
from flubber.alarms.states import AlarmLimits, Severity

__all__ = ["ALARM_OPTIONS", "NOTIFY_OPTIONS", "parse_alarms", "parse_notify"]

#: The options of one ``alarms`` entry.
ALARM_OPTIONS = ("codename", "key", "high", "hihi", "low", "lolo", "deadband", "delay", "stale")
#: The options of one ``notify`` entry (one of command, webhook, email, plus the rest).
NOTIFY_OPTIONS = ("command", "webhook", "email", "min_severity", "repeat", "timeout")
_EMAIL_OPTIONS = ("to", "from", "smtp", "username", "password")


def _limit(entry, name, where):
    value = entry.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise where.child(name).error("must be a finite number, got %r" % (value,))
    return float(value)


def _non_negative(entry, name, where, default):
    value = entry.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise where.child(name).error("must be a number >= 0, got %r" % (value,))
    return float(value)


def parse_alarms(entries, where=NOWHERE, names=None):
    """Check the ``alarms`` list; return ``{name: AlarmLimits}`` in file order.

    :param where: the node file (a :class:`~flubber._config.Where`); messages name ``alarms[N] (NAME)``.
    :param names: the codenames and keys an alarm may watch (None: any); a
        name outside them is refused with the closest one suggested.
    """
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise where.child("alarms").error("must be a list of alarms, e.g. [{codename: temperature, high: 80}], "
                                          "got %r" % (entries,))
    limits = {}
    for index, entry in enumerate(entries):
        place = where.child("alarms[%d]" % index)
        check_mapping(entry, ALARM_OPTIONS, place)
        name = entry.get("codename", entry.get("key"))
        if "codename" in entry and "key" in entry:
            raise place.error("give codename or key, not both")
        if not isinstance(name, str) or not name:
            raise place.error("needs the codename (or key) it watches, e.g. `codename: temperature`")
        place = place.child("(%s)" % name)
        if names is not None and name not in names:
            raise place.error("no codename or key %r to watch%s; there are: %s"
                              % (name, suggest(name, names), ", ".join(sorted(names)) or "none"))
        if name in limits:
            raise place.error("%r has two alarms; put all its limits in one entry" % name)
        rule = AlarmLimits(
            high=_limit(entry, "high", place), hihi=_limit(entry, "hihi", place),
            low=_limit(entry, "low", place), lolo=_limit(entry, "lolo", place),
            deadband=_non_negative(entry, "deadband", place, 0.0),
            delay=_non_negative(entry, "delay", place, 0.0),
            stale=positive_seconds(entry.get("stale"), place.child("stale"), default=None),
        )
        if all(rule.limit(name) is None for name in ("high", "hihi", "low", "lolo")) and rule.stale is None:
            raise place.error("sets no limit; give at least one of high, hihi, low, lolo or stale")
        _check_order(rule, place)
        limits[name] = rule
    return limits


def _check_order(rule, where):
    ordered = [(name, rule.limit(name)) for name in ("lolo", "low", "high", "hihi") if rule.limit(name) is not None]
    for (low_name, low), (high_name, high) in zip(ordered, ordered[1:]):
        if not low < high:
            raise where.error("%s (%g) must be below %s (%g)" % (low_name, low, high_name, high))


def parse_notify(entries, where=NOWHERE):
    """Check the ``notify`` list; return its :class:`~flubber.alarms.NotificationChannel` objects."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise where.child("notify").error("must be a list of targets, e.g. [{webhook: http://...}], got %r"
                                          % (entries,))
    channels = []
    for index, entry in enumerate(entries):
        place = where.child("notify[%d]" % index)
        check_mapping(entry, NOTIFY_OPTIONS, place)
        kinds = [kind for kind in ("command", "webhook", "email") if kind in entry]
        if len(kinds) != 1:
            raise place.error("needs exactly one of command, webhook or email, got %s"
                              % (", ".join(kinds) or "none"))
        timeout = positive_seconds(entry.get("timeout"), place.child("timeout"), default=None)
        extra = {} if timeout is None else {"timeout": timeout}
        try:
            if kinds == ["command"]:
                target = CommandTarget(entry["command"], **extra)
            elif kinds == ["webhook"]:
                target = WebhookTarget(entry["webhook"], **extra)
            else:
                email = entry["email"]
                check_mapping(email, _EMAIL_OPTIONS, place.child("email"))
                for required in ("to", "from", "smtp"):
                    if required not in email:
                        raise place.child("email").error("needs %s (to, from and smtp are required)" % required)
                target = EmailTarget(email["to"], email["from"], email["smtp"], email.get("username"),
                                     email.get("password"), **extra)
            min_severity = Severity.parse(entry.get("min_severity", "MINOR"))
        except ValueError as exc:
            raise place.error(str(exc)) from None
        repeat = positive_seconds(entry.get("repeat"), place.child("repeat"), default=None)
        channels.append(NotificationChannel(target, min_severity=min_severity, repeat=repeat))
    return channels


