"""A logging process for the crash test: ``kill -9`` it, then drain its spool.

    python spool_child.py produce URL TABLE CODENAME SPOOL COUNT PROGRESS
        enqueue values 0..COUNT-1 (50 per hub turn); after each turn append
        "n\\n" to PROGRESS: n points are in the spool for sure
    python spool_child.py drain URL TABLE CODENAME SPOOL
        start a logger on the spool, stop it; exit 0 if nothing is left
"""
import os
import sys

import gevent

from flubber.loggers import ContinuousLogger

T0 = 1700000000.0


def main(argv):
    mode, url, table, codename, spool = argv[:5]
    logger = ContinuousLogger(table, "root", "", [codename], url=url, spool=spool, max_batch=200)
    logger.start()
    if mode == "produce":
        count, progress = int(argv[5]), argv[6]
        fd = os.open(progress, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        for first in range(0, count, 50):
            for i in range(first, min(first + 50, count)):
                logger.enqueue_point(codename, (T0 + i * 1e-3, float(i)))
            gevent.sleep(0.002)  # the turn ends: the points are in the spool file
            os.write(fd, b"%d\n" % min(first + 50, count))
        os.close(fd)
    remaining = logger.stop(timeout=60)
    print("remaining %d" % remaining, flush=True)
    return 0 if remaining == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
