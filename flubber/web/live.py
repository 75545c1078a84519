"""The live values a node's page shows: instrument readings and KV keys, with a short history.

:class:`LiveValues` reads the node at each :meth:`~LiveValues.sample` (the
:class:`~flubber.web.events.Broadcaster` calls it a few times a second, in
one greenlet): nothing is hooked into the node's own paths, so the page can
never slow an instrument or a KV request down. Each sample returns what
changed since the previous one; the last :attr:`LiveValues.history_length`
numeric values of each row are kept for the sparklines of a freshly opened
page.

A key whose class overrides ``on_get`` (it may ask an instrument) is read
only every :attr:`LiveValues.custom_key_interval` seconds.

Rows are named ``codename:NAME`` (an instrument's reading) and
``key:NODE.STORE.KEY`` (a KV key).
"""
import collections
import logging
import numbers
import time

from flubber.kvstore import KVStoreKey

__all__ = ["LiveValues"]

log = logging.getLogger(__name__)


def _number(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if value == value and value not in (float("inf"), float("-inf")) else None


class _Row:
    __slots__ = ("id", "kind", "name", "address", "unit", "value", "value_cal", "time", "marker", "history",
                 "instrument", "custom", "next_read")

    def __init__(self, row_id, kind, name, address, unit, history_length, instrument=None):
        self.id = row_id
        self.kind = kind
        self.name = name
        self.address = address
        self.unit = unit
        self.value = None
        self.value_cal = None
        self.time = None
        self.marker = object()  # what the last sample saw (a reading count, or the value)
        self.history = collections.deque(maxlen=history_length)
        self.instrument = instrument
        self.custom = False  # a key whose on_get a subclass overrides (it may talk to hardware)
        self.next_read = 0.0

    def update(self):
        return [self.time, self.value, self.value_cal]


class LiveValues:
    """What a node's page shows live, read from *node* (a :class:`~flubber.node.LabNode`).

    :param node: the node; its ``instruments`` and ``kv`` are read.
    :param writable: addresses or names of KV keys the page may set.
    :param logging: whether the node's logger database can be plotted.
    :param clock: wall clock (seconds since the epoch).
    """

    #: Values kept per row for the sparklines.
    history_length = 120
    #: Seconds between reads of a key whose class overrides ``on_get`` (it may query hardware);
    #: plain keys, which only return what was set, are read at every sample.
    custom_key_interval = 5.0

    def __init__(self, node, writable=(), logging=False, clock=time.time):
        self.node = node
        #: True when the node logs (its logged codenames can be plotted).
        self.logging = logging
        #: The wall clock of the rows' times.
        self.clock = clock
        self._writable = set(writable)
        self._rows = {}
        self._order = []
        self._build()

    def _build(self):
        rows = []
        units = {}
        for instrument in self.node.instruments:
            unit = getattr(instrument, "unit", None)
            units[instrument.key] = unit
            rows.append(_Row("codename:" + instrument.codename, "codename", instrument.codename,
                             instrument.codename, unit, self.history_length, instrument))
        kv = self.node.kv
        for store_name, store in kv.stores.items():
            for key_name, key in store.endpoints.items():
                if not hasattr(key, "get_value"):
                    continue
                address = "%s.%s.%s" % (kv.name, store_name, key_name) if kv.name else key_name
                unit = getattr(key, "unit", None) or units.get(key_name) or units.get(address)
                row = _Row("key:" + address, "key", key_name, address, unit, self.history_length)
                row.custom = type(key).on_get is not KVStoreKey.on_get
                rows.append(row)
        for row in rows:
            self._rows.setdefault(row.id, row)
        self._order = [row.id for row in rows]

    def writable_keys(self):
        """The addresses of the KV keys the page may set, in page order."""
        return [row.address for row in (self._rows[i] for i in self._order)
                if row.kind == "key" and (row.name in self._writable or row.address in self._writable)]

    def is_writable(self, address):
        """True when the KV key at *address* (a name or ``node.store.key``) may be set from the page."""
        row = self._rows.get("key:" + address)
        if row is None:
            row = next((r for r in self._rows.values() if r.kind == "key" and r.name == address), None)
        return row is not None and (row.name in self._writable or row.address in self._writable)

    def _read_key(self, row):
        key = self.node.kv.endpoint(row.address)
        reading = key.get_value()
        if isinstance(reading, dict) and "value_raw" in reading:
            return reading.get("value_raw"), reading.get("value_cal")
        return reading, None

    def sample(self):
        """Read every row; return ``{row id: [time, value, value_cal]}`` of those that changed."""
        now = self.clock()
        changes = {}
        for row_id in self._order:
            row = self._rows[row_id]
            try:
                if row.instrument is not None:
                    instrument = row.instrument
                    marker = instrument.readings
                    if marker == row.marker or not marker:
                        continue
                    value, value_cal = instrument.last_value, None
                    stamp = getattr(instrument, "last_time", None) or now
                else:
                    if row.custom:
                        if now < row.next_read:
                            continue
                        row.next_read = now + self.custom_key_interval
                    value, value_cal = self._read_key(row)
                    marker = (value, value_cal)
                    if row.marker == marker and row.time is not None:
                        continue
                    stamp = now
            except Exception as exc:  # a key whose on_get fails: show it, never stop the page
                log.debug("reading %s for the web page failed: %s", row_id, exc)
                continue
            row.marker = marker
            row.value, row.value_cal, row.time = value, value_cal, stamp
            number = _number(value)
            if number is not None:
                row.history.append((stamp, number))
            changes[row_id] = row.update()
        return changes

    def snapshot(self, history=False):
        """Return every row as the page and ``/api/values`` show it (see the docs' API page)."""
        rows = []
        for row_id in self._order:
            row = self._rows[row_id]
            item = {"id": row.id, "kind": row.kind, "name": row.name, "address": row.address, "unit": row.unit,
                    "value": row.value, "value_cal": row.value_cal, "time": row.time}
            if row.kind == "key":
                item["writable"] = row.name in self._writable or row.address in self._writable
            else:
                instrument = row.instrument
                item.update(instrument=instrument.name, key=instrument.key, logged=self.logging and instrument.log,
                            readings=instrument.readings,
                            errors=instrument.errors, last_error=instrument.last_error)
            if history:
                item["history"] = [list(point) for point in row.history]
            rows.append(item)
        return {"node": self.node.kv.name, "time": self.clock(), "rows": rows}
