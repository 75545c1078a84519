"""``flubber state show NODE.yaml``: what a start of the node would restore of its ``persist: true`` keys.

Reads the node file and its saved state (see :mod:`flubber.kvstore.persist`)
without starting anything or changing the state. Exit status 0 when the
state is readable (or there is none yet), 1 when it is damaged or
unreadable, 2 for a bad node file.
"""
import json
import sys

from flubber.kvstore import ConfigError
from flubber.kvstore.persist import StateError, format_time
from flubber.kvstore.serve import make_persister
from flubber.node import load_lab_config


def run_show(args):
    """Print one line per key that would be restored, then the notes; return the exit status."""
    try:
        config = load_lab_config(args.config)
        persister = make_persister(config.build_node(), config.persist)
    except (ConfigError, ValueError) as exc:
        print("flubber state: %s" % exc, file=sys.stderr)
        return 2
    if persister is None:
        print("%s: no key has persist: true; nothing is saved or restored" % config.source)
        return 0
    where = persister.store.describe()
    try:
        saved_at, plan, notes = persister.read()
    except StateError as exc:
        print("flubber state: %s; a start would keep it aside and use the initial values" % exc, file=sys.stderr)
        return 1
    if saved_at is None and not plan and not notes:
        print("%s: nothing saved yet; %s start from their initial values" % (where, ", ".join(sorted(persister.keys))))
        return 0
    print("%s (saved %s): a start restores" % (where, format_time(saved_at)))
    for name in sorted(persister.keys):
        if name in plan:
            state, entry = plan[name]
            extra = " with calibration %s" % json.dumps(state["calibration"]) if "calibration" in state else ""
            print("  %s = %s%s (set %s)" % (name, json.dumps(state["value"]), extra, format_time(entry.get("set_at"))))
        else:
            print("  %s: its initial value (nothing saved for it)" % name)
    for note in notes:
        print("note: %s" % note)
    return 0


def register(subparsers):
    """Add the ``state`` subcommand (``flubber state show NODE.yaml``) to *subparsers*."""
    parser = subparsers.add_parser(
        "state", help="show what a node would restore of its persist: true keys",
        description="Look into the saved state of a node's persist: true keys (the state file next to the node "
                    "file, or the node file's persist: path or url) without starting the node.",
        epilog="examples: flubber state show examples/lab.yaml | flubber state show lab.yaml",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    show = actions.add_parser(
        "show", help="print what a start would restore",
        description="Print the value each persist: true key would start with, when it was set, and what is "
                    "ignored (a key no longer in the node file, a value the key no longer takes). Exit status 1 "
                    "for a damaged state.",
        epilog="examples: flubber state show examples/lab.yaml",
    )
    show.add_argument("config", metavar="NODE.yaml", help="the node file; example: examples/lab.yaml")
    show.set_defaults(func=run_show)
    return parser
