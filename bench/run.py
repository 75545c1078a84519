"""Run every flubber benchmark: ``python bench/run.py [NAME ...] [--quick]``.

Each ``bench/bench_<name>.py`` defines ``main(quick=False)`` that measures
flubber and its peers in the same run and prints a table with ratios. Pass
names (``io``, ``sockets``, ...) to run only those; ``--quick`` shortens every
benchmark to a smoke run (the test suite uses it to check they still work).
A ``main`` that also takes ``save`` gets the ``--save`` folder, to draw its
plots there; one that takes ``proto`` gets ``--proto`` (``io``: build the C
stream prototype of ``bench/proto`` and measure it too; off by default).
"""
import argparse
import contextlib
import glob
import inspect
import io
import importlib.util
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def available():
    """Return ``{name: path}`` of every benchmark module in this folder."""
    found = {}
    for path in sorted(glob.glob(os.path.join(HERE, "bench_*.py"))):
        found[os.path.basename(path)[len("bench_"):-len(".py")]] = path
    return found


def load(path):
    """Import the benchmark module at *path*."""
    name = "flubber_bench_" + os.path.basename(path)[:-3]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Tee(io.StringIO):
    """Collect what is printed while passing it on to the terminal."""

    def __init__(self, terminal):
        super().__init__()
        self._terminal = terminal

    def write(self, text):
        self._terminal.write(text)
        self._terminal.flush()
        return super().write(text)


def main(argv=None):
    """Run the chosen benchmarks; return the exit status."""
    benches = available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default all): %s" % ", ".join(benches))
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check that they run, not how fast")
    parser.add_argument("--save", metavar="DIR",
                        help="also write each benchmark's output to DIR/NAME.txt (docs/bench feeds the docs)")
    parser.add_argument("--proto", action="store_true",
                        help="io: build the C stream prototype (bench/proto/build.py) and measure it too")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in benches]
    if unknown:
        parser.error("unknown benchmark %s; choose from %s" % (", ".join(unknown), ", ".join(benches)))
    for name in args.names or list(benches):
        print("=" * 72)
        print("benchmark %s%s" % (name, " (quick)" if args.quick else ""))
        print("=" * 72, flush=True)
        started = time.perf_counter()
        captured = _Tee(sys.stdout)
        module = load(benches[name])
        accepted = inspect.signature(module.main).parameters
        extra = {"save": args.save} if "save" in accepted else {}
        if args.proto and "proto" in accepted:
            extra["proto"] = True
        with contextlib.redirect_stdout(captured):
            module.main(quick=args.quick, **extra)
        print("(%s took %.1f s)\n" % (name, time.perf_counter() - started), flush=True)
        if args.save:
            os.makedirs(args.save, exist_ok=True)
            stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            with open(os.path.join(args.save, name + ".txt"), "w", encoding="utf-8") as handle:
                handle.write("# python bench/run.py %s, %s, %d CPUs\n" % (name, stamp, os.cpu_count()))
                handle.write(captured.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
