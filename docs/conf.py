"""Sphinx configuration for the flubber documentation."""
import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import flubber  # noqa: E402

project = "flubber"
author = "the flubber developers"
copyright = "2026, " + author
version = release = flubber.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
]
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
intersphinx_mapping = {}
nitpicky = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
#: Wide enough, with code in a smaller font, that the widest literal line of these pages
#: (MAX_CODE_COLUMNS characters: the node file in kvstore.rst, the tutorial's banner) shows
#: without a sideways scroll bar in a 1280 px browser window; tests/docs checks both.
html_theme_options = {"page_width": "1240px", "body_max_width": "none", "code_font_size": "0.75em"}
MAX_CODE_COLUMNS = 108
html_static_path = []
# Quotes stay as typed: the sockets' reply table (docs/sockets_replies.csv)
# shows wire bytes, and curly quotes would misquote them.
smartquotes = False


def _write_cli_reference():
    """Write the help of every ``flubber`` subcommand into _generated/cli.rst (included by cli.rst)."""
    import argparse

    from flubber.cli import build_parser

    os.environ["COLUMNS"] = "88"
    parser = build_parser()
    chunks = ["``flubber --help``\n" + "-" * 20 + "\n\n::\n\n" + _indent(parser.format_help())]
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        title = "``flubber %s``" % name
        chunks.append(title + "\n" + "-" * len(title) + "\n\n::\n\n" + _indent(sub.format_help()))
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_generated")
    os.makedirs(folder, exist_ok=True)
    text = "\n\n".join(chunks)
    path = os.path.join(folder, "cli.rst")
    if not os.path.exists(path) or open(path, encoding="utf-8").read() != text:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)


def _indent(text):
    return "".join("    " + line if line.strip() else "\n" for line in text.splitlines(True))


_write_cli_reference()
exclude_patterns.append("_generated")


def _is_public(cls):
    """True when *cls* has a public name a reader can import: ``flubber.io.TCPServer``, not ``_TCPStream``."""
    if cls.__name__.startswith("_"):
        return False
    parts = cls.__module__.split(".")
    public = [part for part in parts if not part.startswith("_")]
    if len(public) == len(parts):
        return True
    import importlib

    package = importlib.import_module(".".join(parts[:next(i for i, p in enumerate(parts) if p.startswith("_"))]))
    return getattr(package, cls.__name__, None) is cls


def _public_bases(cls):
    if _is_public(cls):
        return [cls]
    bases = [public for base in cls.__bases__ for public in _public_bases(base)]
    return bases or [object]


def _hide_private_bases(app, name, obj, options, bases):
    """Show the public classes behind a private base (``Bases: BaseStream``, not ``_TCPStream``)."""
    public = []
    for base in bases:
        for cls in _public_bases(base):
            if cls not in public:
                public.append(cls)
    bases[:] = public


def setup(app):
    app.connect("autodoc-process-bases", _hide_private_bases)
