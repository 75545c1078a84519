"""flubber: cooperative I/O for laboratory slow control and data acquisition.

Everything runs as gevent greenlets: instruments (:mod:`flubber.io`), live
values over UDP (:mod:`flubber.sockets`), a key-value store of settings
(:mod:`flubber.kvstore`), output dumps (:mod:`flubber.dump`) and database
loggers (:mod:`flubber.loggers`).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
