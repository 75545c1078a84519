"""Instrument drivers a lab node reads on a schedule.

A driver is any Python callable the node file names as ``module:attribute``
(see :mod:`flubber.node`). :mod:`flubber.instruments.simulated` holds the
simulated instruments of the demo node.
"""
