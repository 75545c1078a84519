"""Node files for a fleet: N demo nodes with unique names, codenames and ports.

``flubber fleet make DIR --nodes 25`` writes ``node01.yaml`` ... ``node25.yaml``:
each node has ``keys`` KV keys and ``instruments`` sine instruments read
``rate`` times a second, serves them on its own pull-socket port, answers
dripline over the broker (when given) and logs into one shared table with
its own origin (exactly-once per node by the ``(origin, seq)`` key).
"""
import os

import yaml

__all__ = ["fleet_node", "make_fleet"]


def fleet_node(index, broker=None, db=None, keys=10, instruments=2, rate=10.0, tcp_base=18600, pull_base=19000,
               table="dateplots_fleet", prefix="node"):
    """Return the node file (a dict) of fleet node number *index* (1-based)."""
    name = "%s%02d" % (prefix, index)
    node = {
        "name": name,
        "tcp": {"host": "127.0.0.1", "port": tcp_base + index} if tcp_base else None,
        "providers": [{
            "name": "kv", "module": "kv_store",
            "endpoints": [{"name": "key%02d" % number, "module": "kv_store_key", "initial_value": number}
                          for number in range(1, keys + 1)],
        }],
        "instruments": [{
            "name": "%s_sine%d" % (name, number),
            "driver": "flubber.instruments.simulated:sine",
            "args": {"period": 10.0 + number, "amplitude": float(number), "offset": float(index)},
            "interval": 1.0 / rate,
        } for number in range(1, instruments + 1)],
        "sockets": {"pull": {"host": "127.0.0.1", "port": pull_base + index if pull_base else 0}},
    }
    if broker:
        node["amqp"] = {"url": broker}
    if db:
        node["logger"] = {"url": db, "table": table, "create_tables": True}
    return node


def make_fleet(folder, nodes, **options):
    """Write *nodes* node files into *folder* (made when missing); return their paths.

    Keyword options are those of :func:`fleet_node`.
    """
    os.makedirs(folder, exist_ok=True)
    paths = []
    for index in range(1, nodes + 1):
        node = fleet_node(index, **options)
        path = os.path.join(folder, node["name"] + ".yaml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("# fleet node %d of %d, made by `flubber fleet make`\n" % (index, nodes))
            yaml.safe_dump(node, handle, sort_keys=False, default_flow_style=None)
        paths.append(path)
    return paths
