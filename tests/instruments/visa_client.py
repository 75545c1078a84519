"""A PyVISA client of a share, run as its own process by the share tests.

``python visa_client.py PORT ID COUNT`` opens ``TCPIP::127.0.0.1::PORT::SOCKET``
with pyvisa-py, sends COUNT queries ``ECHO? ID-n`` (every 50th starts a
sequence of 5 held under the share's lock, ``:FLUBBER:LOCK?`` ...
``:FLUBBER:UNLOCK``) and prints one JSON line:
``{"id": ID, "replies": n, "mismatches": [...], "locks": n, "idn": "..."}``.
"""
import json
import sys

import pyvisa


def main(port, ident, count):
    manager = pyvisa.ResourceManager("@py")
    resource = manager.open_resource("TCPIP::127.0.0.1::%d::SOCKET" % port, read_termination="\n",
                                     write_termination="\n", timeout=20000)
    try:
        idn = resource.query("*IDN?")
        mismatches = []
        replies = locks = 0
        for number in range(count):
            if number % 50 == 0:
                locks += resource.query(":FLUBBER:LOCK? 5") == "1"
            asked = "%s-%d" % (ident, number)
            reply = resource.query("ECHO? " + asked)
            replies += 1
            if reply != asked:
                mismatches.append([asked, reply])
            if number % 50 == 4:
                resource.write(":FLUBBER:UNLOCK")
    finally:
        resource.close()
        manager.close()
    print(json.dumps({"id": ident, "replies": replies, "mismatches": mismatches, "locks": locks,
                      "idn": idn}), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
