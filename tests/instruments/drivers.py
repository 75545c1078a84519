"""Drivers the node-file tests name as ``tests.instruments.drivers:NAME``."""


class SetpointReader:
    """Reads the controller's setpoint through the LineInstrument the node hands over."""

    def __init__(self, instrument, offset=0.0):
        self.instrument = instrument
        self.offset = offset

    def __call__(self):
        return self.instrument.query_float("SOUR:TEMP?") + self.offset


def no_instrument_argument():
    """A driver that cannot be handed an instrument."""
    return 1.0
