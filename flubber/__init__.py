"""flubber: cooperative I/O for laboratory slow control and data acquisition.

Everything runs as gevent greenlets. Each package re-exports its public
names, so any of them is one import away:

* :mod:`flubber.io`: streams, servers and clients for instruments (TCP,
  pipes, TTYs, serial ports).
* :mod:`flubber.sockets`: live values over UDP, wire-compatible with
  PyExpLabSys' pull and push sockets.
* :mod:`flubber.kvstore`: a dripline-style key-value store of settings,
  served over TCP or RabbitMQ, and its node files.
* :mod:`flubber.loggers`: measurement points into MySQL/MariaDB or SQLite,
  never losing one.
* :mod:`flubber.dump`: the output of device commands captured in files.
* :mod:`flubber.node`: the lab node, one YAML file running all of the above
  (``flubber serve``); :mod:`flubber.nodefile` checks its file.
* :mod:`flubber.instruments`: the drivers a node reads on a schedule, with
  the simulated ones in :mod:`flubber.instruments.simulated`.
* :mod:`flubber.alarms`: limits on values, alarm states, history and
  notifications (the node file's ``alarms:`` and ``notify:``).
* :mod:`flubber.fleet`: many nodes from a folder of node files, supervised
  (``flubber fleet``).
* :mod:`flubber.plot`: logged series read back and drawn (``flubber plot``).
* :mod:`flubber.web`: the node's page in a browser, served by the node
  itself (live values, plots of logged data, status, a JSON API).
* :mod:`flubber.cli`: the ``flubber`` command line.

Every service among them (servers, sockets, the logger, dumps, the KV node
and its transports, the lab node) has the one lifecycle of
:class:`Service`: ``start()`` returns it, ``stop(timeout)`` is idempotent,
``running`` tells, ``serve_forever()`` runs a program.
"""
from flubber._lifecycle import Service, ServiceState

__version__ = "0.1.0"

__all__ = ["__version__", "Service", "ServiceState"]

# Documented, and shown as the base of every service, at their public place (as trio does).
Service.__module__ = ServiceState.__module__ = "flubber"
