"""The reply to ``status``: this machine's status and every socket's.

Two pieces, both read by the ``status`` request of any pull or push socket:

* :class:`SystemStatus` reads the machine's state (load, uptime, memory,
  disk, ...) under the same keys as PyExpLabSys' ``SystemStatus``, without
  any network look-up; a value that cannot be read is None.
* :class:`PortTable` is the one registry shared between sockets: the
  sockets of this process by port, guarded by a lock for greenlets, so a
  second socket on a taken port fails with a clear error and ``status``
  lists every socket of the process.
"""
import collections
import collections.abc
import logging
import os
import pathlib
import platform
import socket
import sys
import threading

import gevent.lock

LOG = logging.getLogger(__name__)


#: ``mac_address`` when it cannot be found, as PyExpLabSys reports it.
MAC_UNKNOWN = "MAC ADDRESS UNKNOWN"


def _read_first_line(path):
    """Return the first line of the text file *path*, or None if unreadable."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.readline()
    except OSError:
        return None


class SystemStatus:
    """The machine status sent in the ``system_status`` part of ``status``.

    :meth:`complete_status` returns a dict with the keys of PyExpLabSys'
    ``SystemStatus`` (sorted, as it sends them) so status monitors written
    for it keep working. Values that are slow to find and never change
    (MAC address, OS version, purpose) are read once.
    """

    def __init__(self, machinename=None):
        self._machinename = machinename or socket.gethostname()
        self._static = None

    def complete_status(self):
        """Return every status item as a dict (JSON serialisable)."""
        if self._static is None:
            self._static = self._read_static()
        status = dict(self._static)
        status.update(
            filesystem_usage=self.filesystem_usage(),
            load_average=self.load_average(),
            max_python_mem_usage_bytes=self.max_python_mem_usage_bytes(),
            number_of_python_threads=threading.active_count(),
            rpi_temperature=self.rpi_temperature(),
            uptime=self.uptime(),
        )
        return dict(sorted(status.items()))

    def _read_static(self):
        return {
            "last_apt_cache_change_unixtime": self._mtime("/var/cache/apt"),
            "last_git_fetch_unixtime": {
                "PyExpLabSys": None,
                "machines": self._mtime(pathlib.Path.home() / "machines" / ".git" / "FETCH_HEAD"),
            },
            "mac_address": self.mac_address(),
            "machine_name": self._machinename,
            "os_version": self.os_version(),
            "purpose": self.purpose(),
            "python_version": "{}.{}.{}".format(*sys.version_info),
            "rpi_model": None,
            "sd_card_serial": (_read_first_line("/sys/block/mmcblk0/device/cid") or "").strip()
            or None,
        }

    @staticmethod
    def _mtime(path):
        try:
            return os.path.getmtime(path)
        except OSError:
            return None

    @staticmethod
    def uptime():
        """Return ``{'uptime_sec': ..., 'idle_sec': ...}`` or None."""
        line = _read_first_line("/proc/uptime")
        if not line:
            return None
        return dict(zip(("uptime_sec", "idle_sec"), (float(value) for value in line.split())))

    @staticmethod
    def load_average():
        """Return ``{'1m': ..., '5m': ..., '15m': ...}`` as ``/proc/loadavg`` prints them, or None.

        Read from the text (two decimals), as PyExpLabSys reports them;
        :func:`os.getloadavg` where there is no ``/proc``.
        """
        line = _read_first_line("/proc/loadavg")
        try:
            loads = [float(value) for value in line.split()[:3]] if line else list(os.getloadavg())
        except (OSError, ValueError):
            return None
        return dict(zip(("1m", "5m", "15m"), loads))

    @staticmethod
    def filesystem_usage():
        """Return total and free bytes of the file system holding this package."""
        stat = os.statvfs(os.path.dirname(os.path.abspath(__file__)))
        return {"total_bytes": stat.f_frsize * stat.f_blocks,
                "free_bytes": stat.f_frsize * stat.f_bfree}

    @staticmethod
    def max_python_mem_usage_bytes():
        """Return the peak resident memory of this process and its children in bytes."""
        try:
            import resource  # noqa: PLC0415 - not on every platform
        except ImportError:
            return None
        usage = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                 + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        return usage * (1 if sys.platform == "darwin" else 1024)

    @staticmethod
    def rpi_temperature():
        """Return the SoC temperature in degrees Celsius, or None."""
        line = _read_first_line("/sys/class/thermal/thermal_zone0/temp")
        try:
            return float(line) / 1000 if line else None
        except ValueError:
            return None

    @staticmethod
    def mac_address():
        """Return the MAC address of the interface of the default route.

        :data:`MAC_UNKNOWN` (PyExpLabSys' text) when there is none.
        """
        try:
            with open("/proc/net/route", encoding="ascii") as handle:
                for line in handle.readlines()[1:]:
                    fields = line.split()
                    if len(fields) > 1 and fields[1] == "00000000":
                        address = _read_first_line("/sys/class/net/%s/address" % fields[0])
                        return address.strip() if address else MAC_UNKNOWN
        except OSError:
            pass
        return MAC_UNKNOWN

    @staticmethod
    def os_version():
        """Return ``VERSION`` of /etc/os-release, or the kernel release."""
        try:
            with open("/etc/os-release", encoding="utf-8") as handle:
                for line in handle:
                    if line.startswith("VERSION="):
                        return line.strip().split("=", 1)[1].strip('"')
        except OSError:
            pass
        return platform.release()

    def purpose(self):
        """Return the machine's purpose from ``~/machines/NAME/PURPOSE``.

        The dict has ``id``, ``purpose`` and ``long_description``; they are
        None when the file is absent. A file whose first line is
        ``id: ...`` and second ``purpose: ...`` fills all three; any other
        file is all long description.
        """
        purpose = {"id": None, "purpose": None, "long_description": None}
        path = pathlib.Path.home() / "machines" / self._machinename / "PURPOSE"
        try:
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        except (OSError, UnicodeDecodeError):
            return purpose
        if len(lines) > 1 and lines[0].startswith("id:") and lines[1].startswith("purpose:"):
            purpose["id"] = lines[0].split(":", 1)[1].strip()
            purpose["purpose"] = lines[1].split(":", 1)[1].strip()
            lines = lines[2:]
        purpose["long_description"] = "".join(lines).strip() or None
        return purpose


class PortTable:
    """The sockets of this process by ``(host, port)``, guarded for greenlets.

    The only state shared between sockets. :meth:`claim` runs the bind
    inside the lock, so two greenlets can never both think they own a port.
    """

    def __init__(self):
        self._lock = gevent.lock.RLock()
        self._sockets = collections.OrderedDict()

    def owner(self, port):
        """Return a socket of this process bound to *port*, or None."""
        with self._lock:
            for (_, bound_port), owner in self._sockets.items():
                if bound_port == port:
                    return owner
        return None

    def claim(self, owner, bind):
        """Call *bind* (returns the bound ``(host, port)``) and register *owner*.

        Raises whatever *bind* raises; nothing is registered then.
        """
        with self._lock:
            address = bind()
            self._sockets[address] = owner
            return address

    def release(self, owner):
        """Forget every entry of *owner* (harmless when there is none)."""
        with self._lock:
            for key in [key for key, value in self._sockets.items() if value is owner]:
                del self._sockets[key]

    def ports(self):
        """Return the ports of the registered sockets, in the order they were bound."""
        with self._lock:
            return [port for (_, port) in self._sockets]

    def status(self):
        """Return ``{port: status entry}`` of every registered socket."""
        with self._lock:
            entries = list(self._sockets.items())
        return {port: owner.status_entry() for (_, port), owner in entries}


class SocketData(collections.abc.Mapping):
    """PyExpLabSys' module-level ``DATA``, as a read-only view: ``{port: entry}``.

    In PyExpLabSys every socket kept its state in one shared dict; in
    flubber each socket owns its state and this view builds an entry from
    it on every lookup, so a script that reads ``DATA[9000]["data"]`` keeps
    working. An entry is a copy: changing it changes nothing. A pull socket's
    entry has ``type`` (``'date'`` or ``'data'``), ``name``, ``codenames``,
    ``data`` (codename: point), ``timeouts``, ``activity`` and, for a data
    socket, ``timestamps``; a push socket's has ``type`` ``'push'``,
    ``name``, ``action``, ``last``, ``last_time``, ``updated``,
    ``updated_time`` and ``activity``. Ports appear from a socket's
    construction until its ``stop()``, as in PyExpLabSys.
    """

    def __init__(self, table):
        self._table = table

    def __getitem__(self, port):
        owner = self._table.owner(port)
        if owner is None:
            raise KeyError(port)
        return owner.data_entry()

    def __iter__(self):
        return iter(self._table.ports())

    def __len__(self):
        return len(self._table.ports())

    def __repr__(self):
        return "<DATA of ports %s>" % (self._table.ports(),)


#: The sockets of this process (see :class:`PortTable`).
PORTS = PortTable()
#: PyExpLabSys' ``DATA``: every socket's state by port (see :class:`SocketData`).
DATA = SocketData(PORTS)
#: The machine status source (see :class:`SystemStatus`).
SYSTEM_STATUS = SystemStatus()


def full_status():
    """Return the dict a ``status`` request answers with."""
    return {"system_status": SYSTEM_STATUS.complete_status(),
            "socket_server_status": PORTS.status()}
