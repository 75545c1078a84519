"""The live status of a running lab node: a rich table on a terminal, log lines elsewhere."""
import logging
import time

import gevent

log = logging.getLogger("flubber.node")


def _format_value(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return "%.6g" % value
    return str(value)


def _alarms_by_name(status):
    alarms = (status.get("alarms") or {}).get("alarms") or []
    return {alarm["name"]: alarm for alarm in alarms}


def _alarm_text(alarm):
    """``MAJOR!`` (unacknowledged), ``MAJOR`` (acknowledged), ``OK``, or "" without an alarm."""
    if alarm is None:
        return ""
    return alarm["severity"] + ("" if alarm["acknowledged"] else "!")


def _logger_state(logger):
    """``" (logger disconnected)"`` while the logger is not writing, ``""`` while it is (or without one)."""
    state = logger.get("state")
    return "" if state in (None, "connected") else " (logger %s)" % state


def render_table(status):
    """Return a :class:`rich.table.Table` of a :meth:`flubber.node.LabNode.status` snapshot."""
    from rich.table import Table

    logger = status.get("logger") or {}
    sockets = status.get("sockets") or {}
    requests = sum(sock.get("requests", 0) for sock in sockets.values()) + status.get("kv_requests", 0)
    errors = sum(item["errors"] for item in status["instruments"]) + sum(
        sock.get("errors", 0) for sock in sockets.values())
    title = "flubber node %s   up %ds   requests served %d   points logged %d   queued %d%s   errors %d" % (
        status["node"], status.get("uptime", 0), requests, logger.get("written", 0), logger.get("queued", 0),
        _logger_state(logger), errors)
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("instrument")
    table.add_column("value", justify="right")
    table.add_column("readings", justify="right")
    table.add_column("errors", justify="right")
    table.add_column("last error", overflow="fold")
    alarms = _alarms_by_name(status)
    if alarms:
        table.add_column("alarm")
    for item in status["instruments"]:
        row = [item["name"], _format_value(item["value"]), str(item["readings"]), str(item["errors"]),
               item["last_error"] or ""]
        if alarms:
            row.append(_alarm_text(alarms.pop(item["codename"], None)))
        table.add_row(*row)
    for name, alarm in alarms.items():  # alarms on KV keys
        table.add_row(name, _format_value(alarm["value"]), "", "", "", _alarm_text(alarm))
    captions = []
    for share in status.get("shares") or []:
        host, port = share["address"] or ("?", 0)
        holder = share["instrument"]["holder"]
        captions.append("share %s:%s: %d clients%s" % (host, port, len(share["clients"]),
                                                      ", locked by %s" % holder if holder else ""))
    if logger.get("last_error"):
        captions.append("logger: %s" % logger["last_error"])
    captions.extend(_persist_lines(status.get("persist")))
    if captions:
        table.caption = "\n".join(captions)
    return table


def _persist_lines(persist):
    """What the status says of the persisted keys: restored ones (and when they were set), save errors."""
    if not persist:
        return []
    from flubber.kvstore.persist import format_time

    lines = []
    if persist["restored"]:
        lines.append("restored from %s: %s" % (persist["where"], ", ".join(
            "%s (set %s)" % (name, format_time(when)) for name, when in sorted(persist["restored"].items()))))
    if persist["last_error"]:
        lines.append("persist: cannot save to %s: %s (%d failures; the node keeps serving)"
                     % (persist["where"], persist["last_error"], persist["failures"]))
    return lines


def summary_line(status):
    """Return a one-line summary of a status snapshot (for logs and non-terminal output)."""
    logger = status.get("logger") or {}
    values = ", ".join("%s=%s" % (item["name"], _format_value(item["value"])) for item in status["instruments"])
    sockets = status.get("sockets") or {}
    requests = sum(sock.get("requests", 0) for sock in sockets.values()) + status.get("kv_requests", 0)
    line = "%s | requests %d | logged %d queued %d%s | errors %d" % (
        values or "no instruments", requests, logger.get("written", 0), logger.get("queued", 0),
        _logger_state(logger), sum(item["errors"] for item in status["instruments"]))
    persist = status.get("persist") or {}
    if persist.get("last_error"):
        line += " | persist failing: %s" % persist["last_error"]
    raised = [alarm for alarm in _alarms_by_name(status).values() if alarm["severity"] != "OK"]
    if raised:
        line += " | alarms: " + ", ".join("%s %s" % (alarm["name"], _alarm_text(alarm)) for alarm in raised)
    return line


def show_status(node, console=None, interval=0.5, log_interval=30.0):
    """Show *node*'s status until it stops: live table on a terminal, else a log line every *log_interval* s.

    Runs in the calling greenlet (spawn it); the rich display is refreshed by
    this greenlet, never by a thread.
    """
    from rich.console import Console
    from rich.live import Live

    console = console or Console()
    if not console.is_terminal:
        # wait on the node, not a plain sleep: a stopping node is not held up for up to log_interval s
        while node.running and not node.wait(log_interval):
            if node.running:
                print(time.strftime("%H:%M:%S"), summary_line(node.status()), flush=True)
        return
    with Live(render_table(node.status()), console=console, auto_refresh=False, transient=False) as live:
        while node.running:
            live.update(render_table(node.status()), refresh=True)
            gevent.sleep(interval)
