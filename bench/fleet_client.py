"""The load client of the fleet benchmark: dripline gets to random nodes over the broker, in its own process.

``python bench/fleet_client.py URL SECONDS IN_FLIGHT NODE,NODE,... KEYS`` sends
``get NODE.kv.keyNN`` requests (a random node and key each) through one
:class:`flubber.kvstore.AMQPKVClient` for SECONDS, with IN_FLIGHT greenlets
each waiting for its reply before the next request, checks that each reply
is the key's value, and prints one JSON line: the replies, the running time,
errors and every round trip in microseconds.
"""
import json
import random
import sys
import time

import gevent

from flubber.kvstore import AMQPKVClient, KVStoreError


def main(url, seconds, in_flight, nodes, keys):
    """Run the gets for *seconds*; print the JSON summary."""
    client = AMQPKVClient(url, timeout=10.0).connect()
    latencies, errors = [], []
    end = time.perf_counter() + seconds

    def worker(seed):
        rng = random.Random(seed)
        while time.perf_counter() < end:
            node, key = rng.choice(nodes), rng.randint(1, keys)
            started = time.perf_counter()
            try:
                reply = client.request("%s.kv.key%02d" % (node, key), 1)
            except KVStoreError as exc:
                errors.append(str(exc))
                continue
            latencies.append(int((time.perf_counter() - started) * 1e6))
            if reply.retcode != 0 or reply.payload.get("value_raw") != key:
                errors.append("%s.kv.key%02d: %d %s" % (node, key, reply.retcode, reply.return_msg))

    began = time.perf_counter()
    gevent.joinall([gevent.spawn(worker, seed) for seed in range(in_flight)], timeout=seconds + 30)
    elapsed = time.perf_counter() - began
    client.close()
    print(json.dumps({"replies": len(latencies), "seconds": elapsed, "errors": len(errors),
                      "first_errors": errors[:3], "latencies": latencies}))


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(","), int(sys.argv[5]))
