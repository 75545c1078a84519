"""JSON from strangers: decode with a nesting limit, never raising RecursionError (no I/O).

Python's decoder recurses once per ``[`` or ``{``: a 1.6 KB datagram of
``[[[[...`` raises :class:`RecursionError` in it, and a value just under that
limit decodes but then breaks whatever walks it next (``repr``, the
encoder of the reply). :func:`loads` refuses both with :class:`ValueError`
before anything else sees the value.
"""
import json

__all__ = ["MAX_DEPTH", "JSONTooDeep", "loads", "too_deep"]

#: Deepest nesting of lists and objects accepted from the network.
MAX_DEPTH = 32


class JSONTooDeep(ValueError):
    """Raised by :func:`loads` for JSON nested more than its limit (a :class:`ValueError`)."""

    def __init__(self, limit):
        super().__init__("the JSON is nested too deeply (more than %d levels of lists and objects)" % limit)
        #: The limit that was passed.
        self.limit = limit


def too_deep(obj, limit=MAX_DEPTH):
    """Return True when *obj* nests lists/dicts more than *limit* levels deep (iterative, no recursion)."""
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def loads(text, limit=MAX_DEPTH, decoder=None):
    """Decode *text* (str) like :func:`json.loads`; refuse nesting deeper than *limit*.

    Text with at most *limit* opening brackets cannot nest deeper, so the
    usual small request costs two ``str.count`` calls more than
    :func:`json.loads`.

    :param decoder: a :class:`json.JSONDecoder` to use (default: the standard one).
    :raises JSONTooDeep: nested too deeply (a :class:`ValueError`).
    :raises ValueError: not JSON.
    """
    try:
        obj = (decoder or _DECODER).decode(text)
    except RecursionError:
        raise JSONTooDeep(limit) from None
    if text.count("[") + text.count("{") > limit and too_deep(obj, limit):
        raise JSONTooDeep(limit)
    return obj


_DECODER = json.JSONDecoder()
