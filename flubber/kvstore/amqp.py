"""Dripline over RabbitMQ, on pika's gevent adapter (needs the ``amqp`` extra).

Three modules do the work; this one gathers their public names:

- :mod:`flubber.kvstore._amqp_link`: one pika connection and channel driven
  from greenlets (:func:`url_parameters`, :func:`describe_open_error`, the
  exchange names);
- :mod:`flubber.kvstore._amqp_service`: :class:`AMQPService` serves a
  :class:`~flubber.kvstore.KVNode` (queue, bindings, workers, alerts,
  reconnects with back-off);
- :mod:`flubber.kvstore._amqp_client`: :class:`AMQPKVClient` sends requests
  and waits for their replies.

Requests are answered in the dripline version they come in (3: one JSON
body; 4: fields in AMQP headers, see :mod:`flubber.kvstore._dripline4`).
Layout: topic exchanges ``requests`` and ``alerts``; a node's
queue is named after the node and bound with ``NAME.#`` per endpoint; a
reply goes to the request's ``reply_to`` queue with its ``correlation_id``.
"""
from flubber.kvstore._amqp_client import AMQPKVClient
from flubber.kvstore._amqp_link import (
    ALERTS_EXCHANGE, REQUESTS_EXCHANGE, Link as _Link, describe_open_error, message_properties,
    safe_url as _safe_url, url_parameters,
)
from flubber.kvstore._amqp_service import AMQPService, serve_amqp

__all__ = [
    "AMQPService", "AMQPKVClient", "serve_amqp", "url_parameters", "describe_open_error", "message_properties",
    "REQUESTS_EXCHANGE", "ALERTS_EXCHANGE",
]
