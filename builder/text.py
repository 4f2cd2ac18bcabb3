"""How figures are written for people: shapes and large numbers, one style each.

``shape_text((28, 28, 256))`` is ``(28, 28, 256)`` (messages: a Python tuple, unknown
sizes as ``?``); ``dims((28, 28, 256))`` is ``28x28x256`` (tables, as the papers print
output sizes); ``human(12345678)`` is ``12.35M``; ``brief(value)`` is a value's repr cut
short for a message.
"""

from __future__ import annotations


def shape_text(shape) -> str:
    """A shape as a tuple, ``?`` for an unknown size: ``(None, 4)`` -> ``(?, 4)``."""
    sizes = ["?" if d is None else str(d) for d in shape]
    return "(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")"


def dims(shape) -> str:
    """A shape as the papers print it: ``(28, 28, 256)`` -> ``28x28x256``."""
    return "x".join("?" if d is None else str(d) for d in shape)


def human(n: float) -> str:
    """A large count, three significant places: 12345678 -> ``12.35M``."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def brief(value, limit: int = 80) -> str:
    """``repr(value)`` for an error message, cut to about ``limit`` characters: a hostile
    file's megabyte-long list or 5,000-digit number must not become the message."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        sign = "a negative" if value < 0 else "an"
        return f"{sign} integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an int too long to print, a list nested too deep
        return f"a {type(value).__name__}"
    return text if len(text) <= limit else text[:limit - 3] + "..."
