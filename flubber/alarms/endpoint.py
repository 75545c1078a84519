"""The node's alarms on its KV transports: ``get alarms`` lists them, ``cmd alarms ack NAME`` acknowledges.

:class:`AlarmsStore` is a KV store named ``alarms`` with no keys; the node
adds it when its file has an ``alarms:`` section, so the alarms are reached
the way every key is (TCP, AMQP, with the same tokens and broker
permissions). ``flubber alarms`` and ``flubber ack NAME`` are these requests.
"""
from flubber.kvstore import InvalidValue, KVStore

__all__ = ["AlarmsStore", "ALARMS_STORE"]

#: The name of the store holding a node's alarms.
ALARMS_STORE = "alarms"


class AlarmsStore(KVStore):
    """A KV store answering for an :class:`~flubber.alarms.AlarmBoard`.

    A get returns ``{"worst": "MAJOR", "alarms": [...]}`` (worst first, as
    :meth:`AlarmBoard.as_list <flubber.alarms.AlarmBoard.as_list>`); the cmd
    method ``ack`` takes an alarm name and acknowledges it.
    """

    CMD_METHODS = KVStore.CMD_METHODS | {"ack"}

    def __init__(self, board, name=ALARMS_STORE):
        super().__init__(name=name)
        #: The board whose alarms this store serves.
        self.board = board

    def on_get(self):
        """Every alarm, worst first, and the worst severity."""
        return {"worst": self.board.worst.name, "alarms": self.board.as_list()}

    def ack(self, name=None):
        """Acknowledge the alarm *name*; return its state afterwards."""
        if not isinstance(name, str):  # None, or JSON that is no name (a list cannot even be looked up)
            raise InvalidValue("ack needs the alarm's name%s; the alarms are: %s"
                               % ("" if name is None else ", got %r" % (name,),
                                  ", ".join(alarm.name for alarm in self.board.alarms())))
        try:
            changed = self.board.acknowledge(name)
        except KeyError as exc:
            raise InvalidValue(str(exc)) from None
        return dict(self.board.get(name).as_dict(), was_unacknowledged=changed)
