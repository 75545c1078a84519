"""Simulated instruments for the demo lab node and for tests.

:class:`Oven` is a heater with a first-order response: its temperature
drifts toward a setpoint (read from the node's KV store on every reading)
with time constant ``tau``, plus a little noise. :class:`PressureGauge`
reads a vacuum chamber whose pressure rises with the oven's temperature
(outgassing) on top of a slow leak drift.

Both are callables: the node creates one instance per instrument and calls
it every ``interval`` seconds; the returned number is the reading.
"""
import math
import random
import time

__all__ = ["Oven", "PressureGauge", "sine"]


class Oven:
    """A heater whose temperature follows a setpoint with a first-order lag.

    :param node: the lab node (its KV store holds the setpoint); ``None``
        for a fixed setpoint.
    :param setpoint_key: name of the KV key with the setpoint in degrees C.
    :param start: temperature at the first reading, degrees C.
    :param tau: time constant in seconds (63 % of a step after ``tau``).
    :param noise: standard deviation of the reading noise, degrees C.
    :param clock: function returning the time in seconds (tests pass a fake).
    """

    #: Arguments that name a KV key of the node (checked before the node starts).
    key_args = ("setpoint_key",)
    #: Unit of the readings (shown by the node's web page).
    unit = "°C"

    def __init__(self, node=None, setpoint_key="setpoint", start=20.0, tau=10.0, noise=0.02,
                 default_setpoint=20.0, clock=time.monotonic, seed=None):
        if tau <= 0:
            raise ValueError("tau must be > 0 seconds, got %r" % (tau,))
        self.node = node
        self.setpoint_key = setpoint_key
        self.tau = float(tau)
        self.noise = float(noise)
        self.default_setpoint = float(default_setpoint)
        self.temperature = float(start)
        self._clock = clock
        self._last = None
        self._random = random.Random(seed)

    def setpoint(self):
        """The current setpoint: the KV key's raw value, or the default."""
        if self.node is None:
            return self.default_setpoint
        value = self.node.value(self.setpoint_key)
        return self.default_setpoint if value is None else float(value)

    def __call__(self):
        """Advance the simulation to now and return the measured temperature."""
        now = self._clock()
        if self._last is not None:
            elapsed = max(0.0, now - self._last)
            self.temperature += (self.setpoint() - self.temperature) * (1.0 - math.exp(-elapsed / self.tau))
        self._last = now
        return round(self.temperature + self._random.gauss(0.0, self.noise), 4)


class PressureGauge:
    """A chamber pressure (mbar) that rises with the oven's temperature.

    :param node: the lab node; the temperature is read from its KV key
        ``temperature_key`` (``None``: room temperature).
    :param base: pressure at 20 degrees C, mbar.
    :param per_degree: relative rise per degree above 20 C (outgassing).
    """

    #: Arguments that name a KV key of the node (checked before the node starts).
    key_args = ("temperature_key",)
    #: Unit of the readings (shown by the node's web page).
    unit = "mbar"

    def __init__(self, node=None, temperature_key="temperature", base=1.0e-6, per_degree=0.03,
                 noise=0.01, seed=None):
        self.node = node
        self.temperature_key = temperature_key
        self.base = float(base)
        self.per_degree = float(per_degree)
        self.noise = float(noise)
        self._random = random.Random(seed)

    def __call__(self):
        """Return the pressure now, in mbar."""
        temperature = None if self.node is None else self.node.value(self.temperature_key)
        temperature = 20.0 if temperature is None else float(temperature)
        factor = math.exp(self.per_degree * (temperature - 20.0))
        return self.base * factor * (1.0 + self._random.gauss(0.0, self.noise))


def sine(period=10.0, amplitude=1.0, offset=0.0):
    """Return a sine of the wall clock: a stateless driver for quick tests."""
    return offset + amplitude * math.sin(2.0 * math.pi * time.time() / period)
