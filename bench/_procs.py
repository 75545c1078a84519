"""Process helpers every benchmark shares: CPUs, child environment, /proc readings.

The benchmark scripts are run as programs (``python bench/bench_io.py``) and
loaded by ``bench/run.py``; both put this folder on ``sys.path`` so
``from _procs import ...`` works either way.
"""
import os
import resource

HERE = os.path.dirname(os.path.abspath(__file__))
#: The checkout: the working folder of every server process.
ROOT = os.path.dirname(HERE)


class BenchFailure(Exception):
    """A server or a client failed; the tables show the row as failed."""


def child_env():
    """The environment for a benchmark's child process: this one's, with the checkout first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def pick_cpus():
    """Return ``(server_cpu, client_cpu)``, or ``(None, None)`` with fewer than 2 CPUs or off Linux."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return None, None
    return (cpus[1], cpus[0]) if len(cpus) >= 2 else (None, None)


def proc_cpu_seconds(pid):
    """User + system CPU seconds process *pid* used so far (all its threads), from ``/proc/PID/stat``.

    :raises OSError: the process is gone, or there is no ``/proc``.
    """
    with open("/proc/%d/stat" % pid, encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_kib(pid):
    """Resident memory (VmRSS) of process *pid* in KiB.

    :raises BenchFailure: the status file has no VmRSS line.
    """
    with open("/proc/%d/status" % pid, encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise BenchFailure("no VmRSS in /proc/%d/status" % pid)


def machine_busy_seconds():
    """CPU seconds all CPUs spent busy since boot (steal included: a stolen CPU is busy for us)."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = [int(field) for field in handle.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def raise_nofile_limit():
    """Raise the soft RLIMIT_NOFILE to the hard limit (when allowed); return the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft == resource.RLIM_INFINITY or soft >= hard:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        return soft
    return hard
