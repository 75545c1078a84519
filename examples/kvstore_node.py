"""A KV store built in Python: a simulated bath temperature, read on a schedule and served over TCP.

Run it, then ask it from another shell::

    python examples/kvstore_node.py --port 8600
    flubber get bath_temperature             # {"value_raw": ..., "value_cal": ...} (kelvin -> celsius)
    flubber set bath_setpoint 25             # the simulated bath drifts towards the setpoint
    flubber get bath_setpoint.log_on_set

Every broadcast (a scheduled read that passed the logging rules, or a set of
``bath_setpoint``) is printed, as a lab would send it to its database with a
:class:`~flubber.kvstore.ContinuousLoggerSink`. Ctrl-C stops it: it says how
many broadcasts it printed and exits with 130.
"""
import argparse
import random
import signal
import sys

import gevent
from gevent.event import Event

from flubber.kvstore import KVNode, KVStore, KVStoreKey, QueueSink, serve_tcp


class SimulatedBath(KVStoreKey):
    """A key whose value is measured (here: simulated) instead of stored."""

    def __init__(self, setpoint, **options):
        super().__init__(**options)
        self.setpoint = setpoint
        self.kelvin = 293.15

    def on_get(self):
        target = self.setpoint.get_value()["value_raw"] + 273.15
        self.kelvin += 0.2 * (target - self.kelvin) + random.gauss(0, 0.01)
        return self.calibrated(round(self.kelvin, 3))


def build_node(interval):
    """The node: store ``bath`` with a setpoint and the simulated temperature."""
    setpoint = KVStoreKey(name="bath_setpoint", initial_value=20.0, log_on_set=True)
    temperature = SimulatedBath(setpoint, name="bath_temperature", calibration="{} - 273.15",
                                schedule_interval=interval, max_interval=10 * interval,
                                max_fractional_change=0.001)
    return KVNode("lab", [KVStore(name="bath", endpoints=[setpoint, temperature])])


def main(argv=None):
    """Serve the node; print each broadcast; stop after --duration seconds (default: never)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8600, help="TCP port (default 8600; 0: any free port)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between scheduled reads")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    args = parser.parse_args(argv)
    node = build_node(args.interval)
    alerts = QueueSink()
    node.add_alert_sink(alerts)
    interrupted = Event()
    ctrl_c = gevent.signal_handler(signal.SIGINT, interrupted.set)
    server = serve_tcp(node, args.host, args.port)
    print("kv store listening on %s:%d" % server.sockname[:2], flush=True)
    node.start()

    printed = []

    def report():
        for alert in alerts.queue:
            print("%s %r" % (alert.routing_key, alert.payload), flush=True)
            printed.append(alert)

    reporter = gevent.spawn(report)
    try:
        interrupted.wait(args.duration)
    finally:
        ctrl_c.cancel()
        reporter.kill()
        node.stop()
        server.close()
    print("stopped%s after %d broadcasts" % (" by Ctrl-C" if interrupted.is_set() else "", len(printed)),
          flush=True)
    return 130 if interrupted.is_set() else 0


if __name__ == "__main__":
    sys.exit(main())
