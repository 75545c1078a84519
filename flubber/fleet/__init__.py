"""Fleets: many nodes, one broker, one database.

``flubber fleet make DIR --nodes N`` writes N demo node files
(:func:`make_fleet`); ``flubber fleet up DIR`` runs one ``flubber serve`` per
node file under a :class:`FleetSupervisor` (restarts with back-off, one log
per node), ``flubber fleet status DIR`` and ``flubber fleet down DIR`` look
after it. The parts are :mod:`flubber.fleet.supervisor` and
:mod:`flubber.fleet.generate`.
"""
from flubber.fleet.generate import fleet_node, make_fleet
from flubber.fleet.supervisor import FleetError, FleetSupervisor, NodeProcess, node_files, read_state, state_path

__all__ = ["FleetSupervisor", "NodeProcess", "FleetError", "node_files", "read_state", "state_path", "fleet_node",
           "make_fleet"]
