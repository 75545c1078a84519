"""Where a KV node listens when nothing says otherwise: shared by the server, the clients and the node file."""

#: The TCP port of ``flubber serve`` when the node file names none.
DEFAULT_PORT = 8600
#: The host it binds to by default (this machine only), and the one clients ask.
DEFAULT_HOST = "127.0.0.1"
