"""The alarms on the node's page: ``GET /api/alarms``, ``POST /api/ack`` and live ``alarms`` events.

:func:`attach` adds them to a :class:`~flubber.web.WebServer`: the page's
alarm panel lists every alarm worst first, coloured by severity, follows
each change as a server-sent ``alarms`` event, and acknowledges with the
node's write token (the same tokens as a set).
"""
from flubber.alarms.board import UnknownAlarmError

__all__ = ["attach", "alarms_payload"]


def alarms_payload(board):
    """What ``/api/alarms`` answers: the worst severity and every alarm, worst first."""
    return {"node": board.node, "worst": board.worst.name, "time": board.now(), "alarms": board.as_list()}


def attach(web, board):
    """Serve *board*'s alarms on *web* (a :class:`~flubber.web.WebServer`); return the change listener."""
    from flubber.web import HTTPError  # the web layer is loaded only by nodes with a page

    web.app.api_routes["alarms"] = lambda environ: alarms_payload(board)

    def ack(body):
        name = body.get("name")
        if not isinstance(name, str):
            raise HTTPError(400, "send {\"name\": ALARM} with the write token; alarms: %s"
                            % ", ".join(alarm.name for alarm in board.alarms()))
        try:
            changed = board.acknowledge(name)
        except UnknownAlarmError as exc:
            raise HTTPError(404, str(exc)) from None
        return dict(board.get(name).as_dict(), was_unacknowledged=changed)

    web.app.post_routes["ack"] = ack

    def announce(change):
        web.broadcaster.announce("alarms", alarms_payload(board))

    board.listeners.append(announce)
    return announce
