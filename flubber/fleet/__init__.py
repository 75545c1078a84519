"""Fleets: many nodes, one broker, one database.

``flubber fleet make DIR --nodes N`` writes N demo node files
(:func:`make_fleet`); ``flubber fleet up DIR`` runs one ``flubber serve`` per
node file under a :class:`FleetSupervisor` (restarts with back-off, one log
per node), ``flubber fleet status DIR`` and ``flubber fleet down DIR`` look
after it; ``flubber nodes --broker URL`` lists the nodes that answer a
broadcast ping (:func:`ping_nodes`). The parts are
:mod:`flubber.fleet.supervisor`, :mod:`flubber.fleet.generate` and
:mod:`flubber.fleet.discovery`.
"""
from flubber.fleet.discovery import format_uptime, ping_nodes, wait_for_nodes
from flubber.fleet.generate import fleet_node, make_fleet
from flubber.fleet.supervisor import FleetError, process_alive, FleetSupervisor, NodeProcess, node_files, read_state, state_path

__all__ = ["process_alive", "FleetSupervisor", "NodeProcess", "FleetError", "node_files", "read_state", "state_path", "fleet_node",
           "make_fleet", "ping_nodes", "wait_for_nodes", "format_uptime"]
