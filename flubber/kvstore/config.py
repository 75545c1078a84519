"""The YAML node file: KV stores, TCP and AMQP settings (``flubber serve NODE.yaml``).

::

    name: lab                                   # node name: first part of node.store.key
    tcp: {host: 127.0.0.1, port: 8600}          # dripline over TCP (default on; false: off)
    amqp: {url: "amqp://guest:guest@127.0.0.1:5672/%2F"}   # optional; off if absent
    providers:                                  # the seed's KV stores, exactly its shape
      - name: kv
        module: kv_store
        endpoints:
          - {name: setpoint, module: kv_store_key, initial_value: 20, calibration: "2*{}"}

Everything is checked before anything is started; every mistake is a
:class:`~flubber.kvstore.ConfigError` naming the file, the entry
(``providers[0] (kv) endpoints[2] (setpoint)``) and what to change. Later
sections of the node file (sockets, logger, instruments) are read by other
layers: they pass their section names as *extra_sections* and get the raw
content in :attr:`NodeConfig.extra`.
"""
import inspect
import logging
import os
import re

import yaml

from flubber._config import Where, check_options, check_port, import_object, suggest
from flubber.kvstore._defaults import DEFAULT_HOST, DEFAULT_PORT
from flubber.kvstore._endpoint import NAME_PATTERN, Endpoint
from flubber.kvstore._exceptions import ConfigError, KVStoreError
from flubber.kvstore.key import KVStoreKey
from flubber.kvstore.node import KVNode
from flubber.kvstore.persist import default_state_path
from flubber.kvstore.store import KVStore
from flubber.kvstore.tcp import read_tokens_file, server_ssl_context

logger = logging.getLogger(__name__)

#: ``module:`` names of providers, and the class each one builds.
PROVIDER_MODULES = {"kv_store": KVStore, "KVStore": KVStore}
#: ``module:`` names of endpoints, and the class each one builds.
ENDPOINT_MODULES = {"kv_store_key": KVStoreKey, "KVStoreKey": KVStoreKey}
#: Top-level keys of the node file this module reads.
NODE_SECTIONS = ("name", "tcp", "amqp", "providers", "persist")
#: Keys of the ``persist`` section (one of them).
PERSIST_OPTIONS = ("path", "url")
#: Keys of the ``tcp`` section.
TCP_OPTIONS = ("host", "port", "max_connections", "max_request_bytes", "idle_timeout", "tls", "tokens",
               "tokens_file")
#: Keys of ``tcp.tls``.
TLS_OPTIONS = ("cert", "key")
#: Keys of the ``amqp`` section.
AMQP_OPTIONS = ("url", "queue", "workers", "alerts", "max_request_bytes")
#: A list item without the space after its dash (``-name: foo``, as dripline's docs print it).
_DASH_WITHOUT_SPACE = re.compile(r"\s*-[A-Za-z_]\w*\s*:")


def register_module(name, cls):
    """Make ``module: NAME`` in a node file build *cls* (a KVStore or Endpoint subclass)."""
    if isinstance(cls, type) and issubclass(cls, KVStore):
        PROVIDER_MODULES[name] = cls
    elif isinstance(cls, type) and issubclass(cls, Endpoint):
        ENDPOINT_MODULES[name] = cls
    else:
        raise ConfigError("register_module(%r, %r): the class must derive from KVStore or Endpoint" % (name, cls))


def _where(source):
    return Where(source, error=ConfigError)


def _check_options(where, entry, allowed, what):
    check_options(entry, sorted(set(allowed)), where, what)


def _resolve_module(where, module, table, kind):
    if not isinstance(module, str) or not module:
        raise where.error("module must be a name such as %s, got %r" % (" or ".join(sorted(table)[:2]), module))
    if module in table:
        return table[module]
    if ":" in module or "." in module:
        cls = import_object(module, where, "module", dotted=True, hint="; write package.module:ClassName")
        base = KVStore if kind == "provider" else Endpoint
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise where.error("module %r is not a %s class" % (module, base.__name__))
        return cls
    raise where.error("unknown %s module %r%s; known: %s (or package.module:ClassName for your own class)"
                      % (kind, module, suggest(module, table), ", ".join(sorted(table))))


def _constructor_options(cls):
    parameters = inspect.signature(cls.__init__).parameters
    return [name for name, parameter in parameters.items()
            if name != "self" and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)]


def _build(where, cls, entry, reserved):
    options = {key: value for key, value in entry.items() if key not in reserved}
    allowed = [name for name in _constructor_options(cls) if name not in ("endpoints", "alert_sinks")]
    if not any(parameter.kind == parameter.VAR_KEYWORD
               for parameter in inspect.signature(cls.__init__).parameters.values()):
        _check_options(where, options, allowed + list(reserved), cls.__name__)
    try:
        return cls(name=entry["name"], **{key: value for key, value in options.items() if key != "name"})
    except KVStoreError as exc:
        raise where.error("%s; change this entry" % exc) from None
    except (TypeError, ValueError) as exc:
        raise where.error("%s: %s" % (cls.__name__, exc)) from None


def _check_name(where, entry, what):
    if "name" not in entry:
        raise where.error("%s has no name; add `name: ...`" % what)
    name = entry["name"]
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise where.error("name %r is not usable: letters, digits, '_' and '-' only (no dots or spaces)" % (name,))
    return name


def _entry(parent, section, index, entry, seen, what, fields):
    """Check list entry *index* of *section* (a mapping with a new name); return its place for messages.

    *seen* maps the names used so far to their places: a name used twice is
    an error naming both entries.
    """
    where = parent.child("%s[%d]" % (section, index))
    if not isinstance(entry, dict):
        raise where.error("each %s must be a mapping with %s, got %r" % (what, fields, entry))
    name = _check_name(where, entry, "this " + what)
    where = parent.child("%s[%d] (%s)" % (section, index, name))
    if name in seen:
        raise where.error("name %r is already used by %s; endpoint names must be unique on a node"
                          % (name, seen[name]))
    seen[name] = where.path
    return where


def build_providers(providers, source="<config>", node_name=None):
    """Build the :class:`~flubber.kvstore.KVStore` objects of a ``providers`` list; return them.

    :param providers: the list from the node file.
    :param source: the file name, for messages.
    :raises ConfigError: naming the entry and what to change.
    """
    root = _where(source)
    if providers is None:
        return []
    if not isinstance(providers, list):
        raise root.error("providers must be a list of stores (`- name: kv` entries), got %s"
                         % type(providers).__name__)
    seen = {}
    if node_name:
        seen[node_name] = "the node name"
    stores = []
    for index, entry in enumerate(providers):
        where = _entry(root, "providers", index, entry, seen, "provider", "name, module and endpoints")
        if "module" not in entry:
            raise where.error("no module; add `module: kv_store`")
        cls = _resolve_module(where, entry["module"], PROVIDER_MODULES, "provider")
        store = _build(where, cls, entry, ("name", "module", "endpoints"))
        endpoints = entry.get("endpoints") or []
        if not isinstance(endpoints, list):
            raise where.error("endpoints must be a list of keys (`- name: foo` entries), got %s"
                              % type(endpoints).__name__)
        for key_index, key_entry in enumerate(endpoints):
            key_where = _entry(where, "endpoints", key_index, key_entry, seen, "endpoint", "name and module")
            key_cls = _resolve_module(key_where, key_entry.get("module", "kv_store_key"), ENDPOINT_MODULES, "endpoint")
            key_entry = dict(key_entry)
            if "calibration" not in key_entry and store.calibration is not None:
                key_entry["calibration"] = store.calibration
            if "get_on_set" not in key_entry and store.get_on_set:
                key_entry["get_on_set"] = True
            store.add_endpoint(_build(key_where, key_cls, key_entry, ("name", "module")))
        stores.append(store)
    return stores


class NodeConfig:
    """A checked node file.

    :attr:`name`, :attr:`tcp` (``{"host", "port", ...}`` or None when off),
    :attr:`amqp` (``{"url", ...}`` or None), :attr:`providers` (the raw
    list), :attr:`extra` (sections other layers read), :attr:`source` (file).
    """

    def __init__(self, name, tcp=None, amqp=None, providers=None, extra=None, source="<config>", persist=None):
        #: The node name.
        self.name = name
        #: TCP settings (host, port, ...) or None when TCP is off.
        self.tcp = tcp
        #: AMQP settings (url, ...) or None when AMQP is off.
        self.amqp = amqp
        #: The ``providers`` list as written.
        self.providers = providers or []
        #: Sections handled by other layers, as written.
        self.extra = extra or {}
        #: Where the configuration came from.
        self.source = source
        #: Where ``persist: true`` keys are saved: ``{"path": FILE}`` or ``{"url": URL}``
        #: (see :mod:`flubber.kvstore.persist`); ``"reset": True`` starts from the initial values.
        self.persist = persist if persist is not None else {"path": default_state_path(source, name)}

    def build_node(self):
        """Return a new :class:`~flubber.kvstore.KVNode` with the configured stores (nothing started)."""
        return KVNode(self.name, build_providers(self.providers, self.source, self.name))

    def __repr__(self):
        return "<NodeConfig %s from %s>" % (self.name, self.source)


def _tcp_section(where, value, base_dir=None):
    if value is None or value is False:
        return None
    if value is True:
        value = {}
    if isinstance(value, int) and not isinstance(value, bool):
        value = {"port": value}
    if not isinstance(value, dict):
        raise where.error("tcp must be a mapping such as {host: 127.0.0.1, port: 8600}, or false to turn TCP off")
    _check_options(where, value, TCP_OPTIONS, "tcp")
    tcp = {"host": DEFAULT_HOST, "port": DEFAULT_PORT}
    tcp.update(value)
    if not isinstance(tcp["host"], str) or not tcp["host"]:
        raise where.error("host must be an address or host name such as 127.0.0.1, got %r" % (tcp["host"],))
    check_port(tcp["port"], where.child("port"))
    for option in ("max_connections", "max_request_bytes"):
        number = tcp.get(option)
        if number is not None and (isinstance(number, bool) or not isinstance(number, int) or number < 1):
            raise where.error("%s must be a whole number >= 1, got %r" % (option, number))
    idle = tcp.get("idle_timeout")
    if idle is not None and (isinstance(idle, bool) or not isinstance(idle, (int, float)) or not 0 <= idle < 1e9):
        raise where.error("idle_timeout must be a number of seconds >= 0 (0: never close idle clients), got %r"
                          % (idle,))
    if tcp.get("tls") is not None:
        tcp["tls"] = _tls_section(where.child("tls"), tcp["tls"], base_dir)
    tokens = _tokens(where, tcp.get("tokens"), tcp.get("tokens_file"), base_dir)
    tcp.pop("tokens_file", None)
    tcp.pop("tokens", None)
    if tokens:
        tcp["tokens"] = tokens
    return tcp


def _file(where, value, base_dir, what):
    if not isinstance(value, str) or not value:
        raise where.error("%s must be a file name, got %r" % (what, value))
    path = os.path.join(base_dir, value) if base_dir and not os.path.isabs(value) else value
    if not os.path.isfile(path):
        raise where.error("%s %s does not exist (a relative name is taken from the node file's folder)"
                          % (what, path))
    return path


def _tls_section(where, value, base_dir):
    if not isinstance(value, dict):
        raise where.error("must be a mapping {cert: FILE, key: FILE}, got %r" % (value,))
    _check_options(where, value, TLS_OPTIONS, "tls")
    if "cert" not in value:
        raise where.error("needs cert: the node's certificate (PEM), e.g. {cert: node.pem, key: node.key}")
    settings = {"cert": _file(where.child("cert"), value["cert"], base_dir, "certificate")}
    settings["key"] = _file(where.child("key"), value["key"], base_dir, "key") if value.get("key") else None
    try:
        server_ssl_context(settings["cert"], settings["key"])
    except (OSError, ValueError) as exc:
        raise where.error("cannot load the certificate and key: %s" % (exc,)) from None
    return settings


def _tokens(where, tokens, tokens_file, base_dir):
    """Return the write tokens of ``tcp.tokens`` and ``tcp.tokens_file`` (a list; empty: writes are open)."""
    result = []
    if tokens is not None:
        if not isinstance(tokens, list) or not tokens:
            raise where.child("tokens").error("must be a non-empty list of tokens (long random strings), got %r"
                                              % (tokens,))
        for token in tokens:
            if not isinstance(token, str) or not token or token != token.strip() or "\n" in token:
                raise where.child("tokens").error("each token must be a string without spaces around it, "
                                                  "got %r" % (token,))
        result.extend(tokens)
    if tokens_file is not None:
        path = _file(where.child("tokens_file"), tokens_file, base_dir, "tokens_file")
        try:
            found = read_tokens_file(path)
        except (OSError, ValueError) as exc:
            raise where.child("tokens_file").error(str(exc)) from None
        if not found:
            raise where.child("tokens_file").error("%s holds no token; write one token per line "
                                                   "(make one with: python3 -c 'import secrets; "
                                                   "print(secrets.token_urlsafe(24))')" % path)
        result.extend(found)
    return result


def _amqp_section(where, value):
    if value is None or value is False:
        return None
    if isinstance(value, str):
        value = {"url": value}
    if not isinstance(value, dict):
        raise where.error("amqp must be a mapping such as {url: \"amqp://guest:guest@127.0.0.1:5672/%2F\"}")
    _check_options(where, value, AMQP_OPTIONS, "amqp")
    url = value.get("url")
    if not isinstance(url, str) or not url.startswith(("amqp://", "amqps://")):
        raise where.error("url must be a broker URL such as amqp://guest:guest@127.0.0.1:5672/%%2F, got %r" % (url,))
    workers = value.get("workers", 4)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise where.error("workers must be a whole number >= 1, got %r" % (workers,))
    limit = value.get("max_request_bytes")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise where.error("max_request_bytes must be a whole number >= 1, got %r" % (limit,))
    queue = value.get("queue")
    if queue is not None and (not isinstance(queue, str) or not queue):
        raise where.error("queue must be a non-empty name, got %r" % (queue,))
    alerts = value.get("alerts", "dripline3")
    if alerts not in ("dripline3", "dripline4"):
        raise where.error("alerts must be dripline3 or dripline4 (the form of the alerts the node publishes; "
                          "requests are answered in the form they come in), got %r" % (alerts,))
    return dict(value, workers=workers, alerts=alerts)


def _persist_section(where, value, source, node_name, base_dir):
    if value is None:
        return {"path": default_state_path(source, node_name, base_dir)}
    if not isinstance(value, dict) or len(value) != 1:
        raise where.error("write persist: {path: FILE} or persist: {url: sqlite:///FILE | mysql://...}, got %r"
                          % (value,))
    check_options(value, PERSIST_OPTIONS, where)
    if "url" in value:
        url = value["url"]
        if not isinstance(url, str) or not url.startswith(("sqlite:///", "mysql://", "mariadb://")):
            raise where.child("url").error("must be sqlite:///FILE or mysql://user:password@host/database, got %r"
                                           % (url,))
        return {"url": url}
    path = value["path"]
    if not isinstance(path, str) or not path.strip():
        raise where.child("path").error("must name a file, e.g. lab.state.json, got %r" % (path,))
    return {"path": os.path.join(base_dir or os.getcwd(), os.path.expanduser(path))}


def parse_node_config(data, source="<config>", extra_sections=(), base_dir=None):
    """Check the decoded node file *data* (a dict) and return a :class:`NodeConfig`.

    :param extra_sections: top-level keys other layers handle (kept in
        :attr:`NodeConfig.extra`); any other unknown key is an error naming it.
    :param base_dir: the folder relative file names (``tcp.tls``,
        ``tcp.tokens_file``) are taken from (default: the working directory).
    """
    root = _where(source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise root.error("a node file is a mapping with name, tcp, amqp and providers, got %s" % type(data).__name__)
    known = tuple(NODE_SECTIONS) + tuple(extra_sections)
    for key in data:
        if key not in known:
            raise root.error("unknown top-level key %r%s; a node file has: %s"
                             % (key, suggest(key, known), ", ".join(known)))
    if "name" not in data:
        raise root.error("no node name; add `name: lab` (the first part of node.store.key addresses)")
    name = data["name"]
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise root.child("name").error("%r is not usable: letters, digits, '_' and '-' only (no dots)" % (name,))
    config = NodeConfig(
        name,
        tcp=_tcp_section(root.child("tcp"), data.get("tcp", True), base_dir),
        amqp=_amqp_section(root.child("amqp"), data.get("amqp")),
        providers=data.get("providers"),
        extra={key: data[key] for key in extra_sections if key in data},
        source=source,
        persist=_persist_section(root.child("persist"), data.get("persist"), source, name, base_dir),
    )
    config.build_node()  # check every store and key now, before anything runs
    return config


def load_node_config(path, extra_sections=()):
    """Read and check the YAML node file at *path*; return a :class:`NodeConfig`.

    :raises ConfigError: the file cannot be read, is not YAML, or any entry
        is wrong (the message names the file, the entry and what to change).
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError("cannot read node file %s: %s" % (path, exc.strerror or exc)) from None
    source = os.path.basename(path) if len(path) > 60 else path
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = " line %d column %d" % (mark.line + 1, mark.column + 1) if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError("%s%s: not valid YAML (%s); %s"
                          % (source, where, problem, _yaml_hint(text, mark))) from None
    return parse_node_config(data, source=source, extra_sections=extra_sections,
                             base_dir=os.path.dirname(os.path.abspath(path)))


def _yaml_hint(text, mark):
    """Return what to check for a YAML error at *mark*: first a ``-name: foo`` item above it."""
    lines = text.splitlines()[:mark.line + 1] if mark else text.splitlines()
    for number, line in enumerate(lines, 1):
        if _DASH_WITHOUT_SPACE.match(line):
            return "line %d: a list item needs a space after the dash: '- %s'" % (number, line.strip()[1:])
    return "check the indentation and quoting there"
