"""Exceptions of :mod:`flubber.kvstore`, declared together.

The tree mirrors how callers catch them::

    KVStoreError                      anything this package raises on purpose
    ├── DriplineError                 carries a dripline return code (retcode)
    │   ├── AMQPError            100
    │   │   ├── AMQPConnectionError  101  (also a TransportError)
    │   │   │   └── AMQPTimeoutError     (also a TimeoutError)
    │   │   └── AMQPRoutingKeyError  102
    │   ├── HardwareError        200
    │   │   ├── HardwareConnectionError    201
    │   │   └── HardwareResponselessError  202
    │   ├── InternalError        300
    │   │   ├── DecodingError        302
    │   │   ├── PayloadError         303
    │   │   ├── InvalidValue         304  └── CalibrationError (refined 304)
    │   │   ├── RequestTimeout       305  (also a TimeoutError)
    │   │   ├── MethodNotSupported   306
    │   │   ├── AccessDenied         307
    │   │   └── InvalidKey           308
    │   └── UnhandledError       999
    ├── NoActionWarning            1  (a warning, not an error)
    ├── ConfigError                   a YAML/keyword configuration is wrong
    └── TransportError                the server or broker cannot be reached (also a ConnectionError)

Each retcode class derives from the class of its hundred, so ``except
HardwareError`` catches a 201 and ``except AMQPError`` a 101, the way the
retcode table groups them. "Cannot reach the server" is one
class whatever the transport: :class:`TransportError` is raised by the TCP
client, and the AMQP client's :class:`AMQPConnectionError` derives from it,
so ``except TransportError`` (or the builtin :class:`ConnectionError`)
works with both. Every deadline that passes raises a builtin
:class:`TimeoutError` subclass (:class:`RequestTimeout` here).

An endpoint raises a :class:`DriplineError` subclass; the transport turns it
into a reply with that ``retcode``. The client does the reverse: an error
reply raises the class of its retcode (see :func:`exception_for_retcode`),
with the reply payload in :attr:`DriplineError.result` and the whole reply in
:attr:`DriplineError.reply`. Each retcode has exactly one class.
"""


class KVStoreError(Exception):
    """Base class of every exception :mod:`flubber.kvstore` raises on purpose."""


class DriplineError(KVStoreError):
    """An error with a dripline return code.

    Raised by endpoints (keys, stores) while handling a request, and by the
    clients when a reply carries an error retcode. Never raised directly: use
    the subclass whose :attr:`retcode` names the situation.

    :param message: what went wrong and what to do about it (becomes the
        reply's ``return_msg``).
    :param result: optional data for the reply payload (for example the
        ``value_raw`` that could not be calibrated).
    :param reply: on the client side, the reply message that carried the error.
    """

    #: The dripline return code this class stands for.
    retcode = 300

    def __init__(self, message="", result=None, reply=None):
        super().__init__(message)
        #: Data for (or from) the reply payload, or None.
        self.result = result
        #: The :class:`~flubber.kvstore.Reply` that carried this error (clients only).
        self.reply = reply


class TransportError(KVStoreError, ConnectionError):
    """The server cannot be reached or the connection to it broke.

    Raised by :class:`~flubber.kvstore.TCPKVClient` when it cannot connect to
    the host and port (is ``flubber serve`` running there?) or the server
    closes the connection before replying; over AMQP its subclass
    :class:`AMQPConnectionError` (retcode 101) says the same of the broker.
    """


class AMQPError(DriplineError):
    """Retcode 100: a generic broker problem, raised by the AMQP transport."""

    retcode = 100


class AMQPConnectionError(AMQPError, TransportError):
    """Retcode 101: the broker could not be reached or the connection broke.

    Also a :class:`TransportError` (and so a :class:`ConnectionError`): one
    ``except TransportError`` catches an unreachable server on TCP and on AMQP.

    Raised by :class:`~flubber.kvstore.AMQPKVClient` when it cannot connect
    (check the URL and that RabbitMQ runs) or loses the broker mid-request.
    """

    retcode = 101


class AMQPTimeoutError(AMQPConnectionError, TimeoutError):
    """Retcode 101: the broker did not answer a connect or set-up step in time.

    An :class:`AMQPConnectionError` and a builtin :class:`TimeoutError`,
    like every deadline that passes in flubber. Raised by the AMQP client
    and service when the broker takes longer than the set-up timeout:
    check that RabbitMQ runs and is not overloaded.
    """


class AMQPRoutingKeyError(AMQPError):
    """Retcode 102: nobody serves the target (routing key).

    Raised when a request names an endpoint no node knows: by the node for a
    TCP request and by the broker (a returned mandatory message) over AMQP.
    Check the spelling with ``flubber cmd NODE.STORE list_endpoints``.
    """

    retcode = 102


class HardwareError(DriplineError):
    """Retcode 200: a generic instrument problem (for endpoints backed by hardware)."""

    retcode = 200


class HardwareConnectionError(HardwareError):
    """Retcode 201: the instrument behind an endpoint cannot be reached."""

    retcode = 201


class HardwareResponselessError(HardwareError):
    """Retcode 202: the instrument behind an endpoint did not answer."""

    retcode = 202


class InternalError(DriplineError):
    """Retcode 300: a generic internal error of the serving process."""

    retcode = 300


class DecodingError(InternalError):
    """Retcode 302: the request bytes are not a dripline request.

    Raised while decoding: not UTF-8, not JSON, not a JSON object, a line
    longer than the server accepts, a missing or ill-typed ``msgop``,
    ``msgtype`` or ``target``.
    """

    retcode = 302


class PayloadError(InternalError):
    """Retcode 303: the request payload does not fit the operation.

    Raised when the payload is not an object, ``values`` is not a list, a set
    carries no value, or a cmd's arguments do not match the method.
    """

    retcode = 303


class InvalidValue(InternalError, ValueError):
    """Retcode 304: a value cannot be used (also a :class:`ValueError`).

    Raised by keys and stores for a value of the wrong kind (a negative
    ``max_interval``, an unknown ``schedule_status``), and for a get/set of
    an attribute that is not exposed.
    """

    retcode = 304


class CalibrationError(InvalidValue):
    """Retcode 304: a calibration is refused or cannot be applied.

    Raised by :mod:`flubber.kvstore.calibration` when an expression uses
    anything but arithmetic and the allowed functions (names, attributes,
    imports: never evaluated), is not valid syntax, produces an unusable
    value, or when a raw value is missing from a calibration dict.
    """


class RequestTimeout(InternalError, TimeoutError):
    """Retcode 305: no reply came in time (also a :class:`TimeoutError`).

    Raised by the clients when the server or broker does not answer within
    the ``timeout``; raise ``timeout`` or check that the service runs.
    """

    retcode = 305


class MethodNotSupported(InternalError):
    """Retcode 306: the endpoint does not offer this operation or method.

    Raised for an unknown ``msgop``, an operation the endpoint does not
    implement (send, run), and a cmd naming an unknown or private method.
    """

    retcode = 306


class AccessDenied(InternalError):
    """Retcode 307: the endpoint is locked and the request lacks its key.

    Raised for every operation but get on a locked endpoint when the request
    has no ``lockout_key`` or a different one; unlock with the key, or with
    ``force=True``.
    """

    retcode = 307


class InvalidKey(InternalError):
    """Retcode 308: the ``lockout_key`` is not a lockout key at all.

    Raised when a request's or a lock's ``lockout_key`` is not a UUID
    (32 hexadecimal digits, dashes allowed).
    """

    retcode = 308


class UnhandledError(DriplineError):
    """Retcode 999: an unexpected exception inside an endpoint.

    The server logs the traceback; the reply carries the exception text.
    """

    retcode = 999


class NoActionWarning(KVStoreError):
    """Retcode 1: the request succeeded but nothing was done.

    Raised by an endpoint (for example unlocking an endpoint that is not
    locked) to answer with a warning instead of an error.
    """

    retcode = 1

    def __init__(self, message="", result=None, reply=None):
        super().__init__(message)
        #: Data for (or from) the reply payload, or None.
        self.result = result
        #: The reply that carried this warning (clients only).
        self.reply = reply


class ConfigError(KVStoreError, ValueError):
    """A configuration (YAML file or keyword arguments) is wrong.

    Raised by :func:`~flubber.kvstore.load_node_config` and by the
    constructors of stores and keys before anything is started; the message
    names the file, the entry and what to change.
    """


#: Every class that stands for a retcode, by retcode (one class each).
RETCODE_CLASSES = {
    cls.retcode: cls
    for cls in (
        AMQPError, AMQPConnectionError, AMQPRoutingKeyError,
        HardwareError, HardwareConnectionError, HardwareResponselessError,
        InternalError, DecodingError, PayloadError, InvalidValue, RequestTimeout,
        MethodNotSupported, AccessDenied, InvalidKey, UnhandledError,
    )
}


def exception_for_retcode(retcode):
    """Return the exception class for a non-zero *retcode*.

    Warnings (1-99) map to :class:`NoActionWarning`; unknown error codes to
    the class of their hundred (``203`` -> :class:`HardwareError`), else
    :class:`UnhandledError`.
    """
    if 0 < retcode < 100:
        return NoActionWarning
    if retcode in RETCODE_CLASSES:
        return RETCODE_CLASSES[retcode]
    return RETCODE_CLASSES.get(retcode // 100 * 100, UnhandledError)
