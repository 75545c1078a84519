"""What a dump does with the bytes it receives, with no I/O.

* :class:`OutputFilter` turns what a line device (TCP, serial) sends into the
  command's output: it drops the echo of the command and recognises the
  prompt that says the command is done.
* :func:`identifier_for` and :func:`check_identifier` name the output files.
"""
import re

__all__ = ["OutputFilter", "identifier_for", "check_identifier", "compile_prompt"]

#: Bytes at the end of the received data in which a prompt is looked for.
PROMPT_WINDOW = 4096


def compile_prompt(prompt):
    """Return the compiled search for *prompt* at the end of the output, or ``None``.

    *prompt* is a regular expression (str or bytes), compiled with
    :data:`re.MULTILINE` so ``^`` anchors at a line start. It must match at
    the very end of what the device sent, give or take trailing blanks.

    :raises ValueError: when *prompt* is not a valid regular expression.
    """
    if prompt is None or prompt == "" or prompt == b"":
        return None
    if isinstance(prompt, re.Pattern):
        flags, prompt = prompt.flags, prompt.pattern
    else:
        flags = 0
    if isinstance(prompt, str):
        prompt = prompt.encode("utf-8")
    try:
        return re.compile(b"(?:" + prompt + b")[ \\t]*\\Z", flags | re.MULTILINE)
    except re.error as exc:
        raise ValueError("prompt %r is not a valid regular expression: %s" % (prompt, exc)) from exc


class OutputFilter:
    """Separates a command's output from its echo and from the prompt after it.

    Feed it what a line device sends after the command; it returns the bytes
    that are surely output. With a *prompt* (see :func:`compile_prompt`),
    complete lines are returned at once and the last, unfinished line is held
    back: when it matches the prompt, :attr:`at_prompt` is true, and
    :meth:`confirm_prompt` ends the output before the prompt. More data after
    a prompt-like line means it was output after all: it is kept.

    With *echo* (the command line as bytes), a first line equal to it (line
    ending and surrounding blanks aside) is dropped: many shells echo what
    they are sent.

    >>> f = OutputFilter(prompt=compile_prompt(rb"\\$"), echo=b"uptime")
    >>> f.feed(b"uptime\\r\\n 10:00 up 3 days\\r\\nlab$ ")
    b' 10:00 up 3 days\\r\\n'
    >>> f.at_prompt, f.confirm_prompt()
    (True, b'')
    """

    __slots__ = ("_prompt", "_echo", "_pending", "_match_start", "at_prompt")

    def __init__(self, prompt=None, echo=None):
        self._prompt = prompt
        self._echo = echo.strip() if echo else None
        self._pending = b""
        self._match_start = -1
        #: True while the data received so far ends with the prompt.
        self.at_prompt = False

    def feed(self, data):
        """Add *data* received from the device; return the bytes that are surely output."""
        buf = self._pending + data if self._pending else data
        self._pending = b""
        if self._echo is not None:
            newline = buf.find(b"\n")
            if newline < 0:
                if len(buf) <= len(self._echo) + 64:
                    self._pending = buf  # wait for the first line to end
                    return b""
            elif buf[:newline + 1].strip() == self._echo:
                buf = buf[newline + 1:]
            self._echo = None
        if self._prompt is None:
            return buf
        start = max(0, len(buf) - PROMPT_WINDOW)
        match = self._prompt.search(buf, start)
        if match is not None:
            self.at_prompt = True
            self._match_start = match.start()
            self._pending = buf
            return b""
        self.at_prompt = False
        cut = buf.rfind(b"\n") + 1
        self._pending = buf[cut:]
        return buf[:cut] if cut < len(buf) else buf

    def confirm_prompt(self):
        """End the output at the prompt: return the output before it, drop the prompt."""
        if not self.at_prompt:
            raise ValueError("confirm_prompt() called but the output does not end with the prompt")
        out = self._pending[:self._match_start]
        self._pending = b""
        self.at_prompt = False
        return out

    def finish(self):
        """End of the output without a prompt: return everything held back."""
        out, self._pending = self._pending, b""
        self.at_prompt = False
        self._echo = None
        return out


_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")

#: Longest identifier :func:`identifier_for` derives from a command.
MAX_IDENTIFIER = 80


def identifier_for(command):
    """Derive a file-name-safe identifier from *command*.

    >>> identifier_for("dmesg -k")
    'dmesg_-k'
    >>> identifier_for("cat /proc/meminfo")
    'cat_proc_meminfo'
    """
    ident = _UNSAFE.sub("_", command).strip("._-")
    return ident[:MAX_IDENTIFIER].rstrip("._-") or "dump"


def check_identifier(identifier):
    """Return *identifier* if it can name a file in the output folder, else raise ValueError."""
    if not isinstance(identifier, str) or not identifier.strip():
        raise ValueError("a dump identifier must be a non-empty string, got %r" % (identifier,))
    if "/" in identifier or "\0" in identifier or identifier in (".", ".."):
        raise ValueError("dump identifier %r cannot name a file: use letters, digits, '_', '-' "
                         "and '.' (no '/')" % (identifier,))
    return identifier

