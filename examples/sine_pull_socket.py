"""Serve a simulated sine-wave measurement the PyExpLabSys way, on greenlets.

A pull socket serves the "measurement" (codenames ``sine`` and
``noisy_sine``, OLD_DATA if the loop stalls); a push socket lets anyone on
the network change the frequency and amplitude while it runs::

    python examples/sine_pull_socket.py                 # ports 9000 and 8500
    flubber pull 127.0.0.1:9000                          # {"sine": [t, y], ...}
    flubber pull 127.0.0.1:9000 sine#raw                 # t,y
    flubber pull 127.0.0.1:8500 'json_wn#{"frequency": 2.0}'

``--duration`` stops it after that many seconds; ``--port 0`` and
``--push-port 0`` pick free ports (the first two lines printed name them).
Ctrl-C stops it: it says how many measurements it served and exits with 130.
"""
import argparse
import logging
import math
import random
import signal
import sys
import time

import gevent
from gevent.event import Event

from flubber.sockets import DataPushSocket, DateDataPullSocket

log = logging.getLogger("sine")


class SineWave:
    """The simulated instrument: a sine of settable frequency and amplitude."""

    def __init__(self, frequency=0.1, amplitude=1.0):
        self.frequency = frequency
        self.amplitude = amplitude

    def read(self, now):
        """Return ``(clean, noisy)`` values at unix time *now*."""
        clean = self.amplitude * math.sin(2 * math.pi * self.frequency * now)
        return clean, clean + random.gauss(0.0, 0.05 * self.amplitude)

    def configure(self, data):
        """Push-socket callback: apply ``frequency``/``amplitude``, return the settings."""
        for key in ("frequency", "amplitude"):
            if key in data:
                value = float(data[key])
                if not value > 0:
                    raise ValueError("%s must be > 0, got %r" % (key, data[key]))
                setattr(self, key, value)
                log.info("%s set to %s", key, value)
        return {"frequency": self.frequency, "amplitude": self.amplitude}


def serve(pull, wave, interval, duration=None, stop=None):
    """Measure every *interval* seconds into *pull* until *duration* passed (or forever) or the
    event *stop* is set; return the number of measurements."""
    stop = stop or Event()
    deadline = None if duration is None else time.time() + duration
    count = 0
    while (deadline is None or time.time() < deadline) and not stop.is_set():
        now = time.time()
        clean, noisy = wave.read(now)
        pull.set_point("sine", (now, clean))
        pull.set_point("noisy_sine", (now, noisy))
        count += 1
        stop.wait(interval)
    return count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to serve on (default 127.0.0.1; '' for every interface)")
    parser.add_argument("--port", type=int, default=9000,
                        help="UDP port of the pull socket, 0 for any free one (default 9000)")
    parser.add_argument("--push-port", type=int, default=8500,
                        help="UDP port of the push socket, 0 for any free one (default 8500)")
    parser.add_argument("--interval", type=float, default=0.1,
                        help="seconds between measurements (default 0.1)")
    parser.add_argument("--duration", type=float, default=None,
                        help="stop after this many seconds (default: run until Ctrl-C)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    wave = SineWave()
    # A point older than five measurement intervals is served as OLD_DATA.
    pull = DateDataPullSocket("simulated sine wave", ["sine", "noisy_sine"],
                              port=args.port, timeouts=5 * args.interval, host=args.host)
    push = DataPushSocket("sine wave settings", port=args.push_port, action="callback_direct",
                          callback=wave.configure, host=args.host)
    interrupted = Event()
    with pull, push:
        ctrl_c = gevent.signal_handler(signal.SIGINT, interrupted.set)
        print("pull socket %r on UDP %s:%d" % (pull.name, args.host, pull.port), flush=True)
        print("push socket %r on UDP %s:%d" % (push.name, args.host, push.port), flush=True)
        try:
            count = serve(pull, wave, args.interval, args.duration, stop=interrupted)
        finally:
            ctrl_c.cancel()
    print("stopped%s after %d measurements" % (" by Ctrl-C" if interrupted.is_set() else "", count), flush=True)
    return 130 if interrupted.is_set() else 0


if __name__ == "__main__":
    sys.exit(main())
