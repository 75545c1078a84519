"""``flubber dump CONFIG.ini``: run the dumps of an INI file concurrently.

On a terminal a live table shows each dump (bytes so far, done or failed);
otherwise one plain line is printed when a dump starts and when it ends. The
exit status is 0 when every dump succeeded, 1 when any failed, 2 when the
configuration is wrong.

Ctrl-C (SIGINT) or SIGTERM stops every dump: each command's whole process
group ends (nothing is left running), what was captured is kept, one line
per dump says what became of it, and the exit status is 130 (143 after
SIGTERM), without a traceback.
"""
import argparse
import logging
import signal
import sys

import gevent
import gevent.pool

from flubber.dump import DumpConfiguration, DumpConfigurationError
from flubber._config import positive_seconds

__all__ = ["register", "run"]

log = logging.getLogger(__name__)

#: Seconds between two refreshes of the live table.
REFRESH_INTERVAL = 0.1

EXAMPLES = """\
examples:
  flubber dump lab.ini                         run the dumps of lab.ini
  flubber dump lab.ini --output-dir /tmp/run7  write the files to /tmp/run7
  flubber dump lab.ini --timestamp             dmesg_20260131-142501.txt, never overwrite
  flubber dump lab.ini --timeout 2 --deadline 60
  flubber dump lab.ini --max-concurrent 4 --progress plain

The INI file: a [dump] section with 'timeout = 5' and one 'identifier = command'
per dump, an optional [device] section (kind = local | tcp | serial and its
settings) and an optional [dump_options] section (deadline, output_dir,
timestamp). See examples/dump.ini.
"""


def _seconds(text):
    try:
        return positive_seconds(text, parse_text=True)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError("must be a whole number >= 1, got %r" % text)
    return value


def register(subparsers):
    """Add the ``dump`` subcommand to *subparsers*."""
    parser = subparsers.add_parser(
        "dump", help="capture the output of device commands in files (see 'flubber dump --help')",
        description="Run every dump of CONFIG.ini concurrently and write each command's output to "
                    "<output_dir>/<identifier>.txt.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", metavar="CONFIG.ini",
                        help="the INI file of the dumps; example: flubber dump lab.ini")
    parser.add_argument("--output-dir", metavar="DIR",
                        help="folder of the output files, instead of [dump_options] output_dir "
                             "(default: the current folder); example: --output-dir /tmp/run7")
    parser.add_argument("--timestamp", action="store_true", default=None,
                        help="add the start time to each file name so runs do not overwrite; "
                             "example: --timestamp")
    parser.add_argument("--timeout", type=_seconds, metavar="SECONDS",
                        help="silence timeout, instead of [dump] timeout; example: --timeout 2")
    parser.add_argument("--deadline", type=_seconds, metavar="SECONDS",
                        help="overall limit per dump, instead of [dump_options] deadline; "
                             "example: --deadline 60")
    parser.add_argument("--max-concurrent", type=_count, metavar="N",
                        help="run at most N dumps at once (default: all); example: --max-concurrent 4")
    parser.add_argument("--progress", choices=("auto", "rich", "plain"), default="auto",
                        help="live table (rich), one line per event (plain), or rich on a terminal "
                             "and plain otherwise (auto, the default); example: --progress plain")
    parser.set_defaults(func=run)
    return parser


def run(args, out=None):
    """Run the ``dump`` subcommand for the parsed *args*; return the exit status."""
    out = sys.stdout if out is None else out
    try:
        config = DumpConfiguration(args.config)
        dumps = config.dumps(output_dir=args.output_dir, timestamp=args.timestamp,
                             deadline=args.deadline, timeout=args.timeout)
    except DumpConfigurationError as exc:
        print("flubber dump: error: %s" % exc, file=sys.stderr)
        return 2
    if not dumps:
        print("no dumps configured in %s (it has no [dump] section with 'identifier = command' lines)"
              % args.config, file=out)
        return 0
    rich = args.progress == "rich" or (args.progress == "auto" and out.isatty())
    stopper = _Stopper()
    with stopper:
        if rich:
            _run_with_table(dumps, args.max_concurrent, out, stopper=stopper)
        else:
            _run_plain(dumps, args.max_concurrent, out, stopper=stopper)
    results = [dump.result for dump in dumps]
    if stopper.signum is not None:
        return _report_stopped(results, stopper.signum, out)
    failed = [result for result in results if result.failed]
    print("%d dumps: %d done, %d failed" % (len(results), len(results) - len(failed), len(failed)), file=out)
    for result in failed:
        print("  %s failed: %s" % (result.identifier, result.error), file=out)
    return 1 if failed else 0


class _Stopper:
    """While active, SIGINT and SIGTERM stop the dumps of :meth:`watch`-ed pools (in the main thread only)."""

    #: Seconds the dumps get to close their sessions (a command: SIGTERM, then SIGKILL) after a signal.
    stop_timeout = 10.0

    def __init__(self):
        #: The signal that stopped the dumps, or None.
        self.signum = None
        self._pool = None
        self._handlers = []

    def __enter__(self):
        try:
            self._handlers = [gevent.signal_handler(signum, self._on_signal, signum)
                              for signum in (signal.SIGINT, signal.SIGTERM)]
        except ValueError:  # not the main thread: Ctrl-C stays the caller's business
            self._handlers = []
        return self

    def __exit__(self, *exc_info):
        for handler in self._handlers:
            handler.cancel()
        self._handlers = []

    def watch(self, pool):
        """Stop the dumps of *pool* when a signal comes; return *pool*."""
        self._pool = pool
        return pool

    def _on_signal(self, signum):  # in the hub: spawn the stop, never block here
        if self.signum is None:
            self.signum = signum
            if self._pool is not None:
                gevent.spawn(self._pool.kill, block=True, timeout=self.stop_timeout)


def _report_stopped(results, signum, out):
    """Print one line per dump after a stop by *signum*; return 128 + signum (130 for Ctrl-C)."""
    name = signal.Signals(signum).name
    print("%s: %d dumps stopped; what was captured is kept:" % (name, len(results)), file=out)
    for result in results:
        if result.state == "waiting":
            print("  %s: not started" % result.identifier, file=out)
        elif result.ended == "stopped":
            print("  %s: stopped after %.1f s, %d bytes kept in %s" % (
                result.identifier, result.duration, result.bytes, result.path), file=out)
        elif result.failed:
            print("  %s: failed: %s" % (result.identifier, result.error), file=out)
        else:
            print("  %s: done (%s), %d bytes in %s" % (result.identifier, result.ended, result.bytes, result.path),
                  file=out)
    out.flush()
    return 128 + signum


def _run_one(dump, report=None):
    if report is not None:
        report(dump, "start")
    try:
        dump()
    except Exception as exc:  # a bug in one dump must not stop the others
        log.exception("dump %s crashed", dump.identifier)
        dump.result.state = "failed"
        dump.result.error = "crashed: %r" % (exc,)
    if report is not None:
        report(dump, "end")


def _spawn_all(dumps, max_concurrent, report=None, stopper=None):
    pool = gevent.pool.Pool(max_concurrent)
    if stopper is not None:
        stopper.watch(pool)  # before spawning: with max_concurrent, spawn() waits for a free slot
    for dump in dumps:
        if stopper is not None and stopper.signum is not None:
            break
        pool.spawn(_run_one, dump, report)
    return pool


def _run_plain(dumps, max_concurrent, out, stopper=None):
    def report(dump, event):
        result = dump.result
        if event == "start":
            print("dump %s: started: %s" % (dump.identifier, dump.command), file=out, flush=True)
        elif result.failed:
            print("dump %s: FAILED after %.1f s, %d bytes -> %s: %s" % (
                dump.identifier, result.duration, result.bytes, result.path, result.error), file=out, flush=True)
        else:
            print("dump %s: done in %.1f s (%s), %d bytes -> %s" % (
                dump.identifier, result.duration, result.ended, result.bytes, result.path),
                file=out, flush=True)

    _spawn_all(dumps, max_concurrent, report, stopper).join()


def _describe(result):
    if result.state == "failed":
        return "[red]failed[/red]"
    if result.state == "done":
        return "[green]done[/green] (%s)" % result.ended
    return result.state


def _run_with_table(dumps, max_concurrent, out, console=None, stopper=None):
    from rich.console import Console
    from rich.filesize import decimal
    from rich.progress import Progress, SpinnerColumn, TextColumn

    console = console or Console(file=out)
    progress = Progress(
        SpinnerColumn(finished_text=" "),
        TextColumn("[bold]{task.description}"),
        TextColumn("{task.fields[state]}"),
        TextColumn("{task.fields[size]:>10}"),
        TextColumn("{task.fields[seconds]:>7.1f} s"),
        console=console, auto_refresh=False,  # refreshed by a greenlet below, never a thread
    )
    tasks = {}
    for dump in dumps:
        tasks[dump] = progress.add_task(dump.identifier, start=False, total=None,
                                        state="waiting", size="", seconds=0.0)

    def update():
        for dump, task in tasks.items():
            result = dump.result
            if result.state == "waiting":
                continue
            if not progress.tasks[task].started:
                progress.start_task(task)
            finished = result.state in ("done", "failed")
            progress.update(task, state=_describe(result), size=decimal(result.bytes),
                            seconds=result.duration, total=1 if finished else None,
                            completed=1 if finished else 0)
        progress.refresh()

    handlers = _redirect_logging(console)
    try:
        with progress:
            pool = _spawn_all(dumps, max_concurrent, stopper=stopper)
            while not pool.join(timeout=REFRESH_INTERVAL):
                update()
            update()
    finally:
        _restore_logging(handlers)


class _ConsoleHandler(logging.Handler):
    """Prints log records above the live table."""

    def __init__(self, console, formatter):
        super().__init__()
        self._console = console
        self.setFormatter(formatter)

    def emit(self, record):
        try:
            self._console.print(self.format(record), markup=False, highlight=False, soft_wrap=True)
        except Exception:  # logging must never raise
            self.handleError(record)


def _redirect_logging(console):
    """Send the root logger's records through *console* while the table is live."""
    root = logging.getLogger()
    saved = list(root.handlers)
    formatter = saved[0].formatter if saved and saved[0].formatter else logging.Formatter(
        "%(asctime)s %(name)s %(levelname)s: %(message)s")
    handler = _ConsoleHandler(console, formatter)
    handler.setLevel(saved[0].level if saved else logging.NOTSET)
    for old in saved:
        root.removeHandler(old)
    root.addHandler(handler)
    return saved, handler


def _restore_logging(state):
    saved, handler = state
    root = logging.getLogger()
    root.removeHandler(handler)
    for old in saved:
        root.addHandler(old)
