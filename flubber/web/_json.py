"""Strict JSON for the web API: never ``NaN`` or ``Infinity`` (a browser's JSON.parse refuses them)."""
import json
import math

__all__ = ["dumps", "finite"]


def finite(value):
    """Return *value* with every non-finite float replaced by its name (``"NaN"``, ``"inf"``, ``"-inf"``)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def dumps(value):
    """Encode *value* as compact strict JSON (UTF-8 bytes, no newline); unknown objects as their str()."""
    try:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"), default=str)
    except ValueError:  # a NaN or infinity somewhere: rare, so only then walk the value
        text = json.dumps(finite(value), allow_nan=False, separators=(",", ":"), default=str)
    return text.encode("utf-8")
