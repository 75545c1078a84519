"""``flubber plot DATABASE_URL CODENAME...``: draw logged series into a PNG."""
import os
import sys

from flubber.cli.db import read_database
from flubber.plot import parse_duration, plot_series, read_series


def run(args):
    """Read the series and draw them; return the exit status."""
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):
        print("flubber plot: cannot write %s: the folder %s does not exist; create it or give another -o"
              % (args.output, folder), file=sys.stderr)
        return 2
    def draw():
        since = None if args.since in (None, "all") else parse_duration(args.since)
        series = read_series(args.url, args.codenames, since=since, table=args.table)
        plot_series(series, args.output, title=args.title, width=args.width, height=args.height)
        return series

    series, status = read_database("plot", args.url, draw)
    if status is not None:
        return status
    points = sum(len(times) for times, _ in series.values())
    print("%s: %d points of %s" % (args.output, points, ", ".join(args.codenames)))
    return 0


def register(subparsers):
    """Add the ``plot`` subcommand to *subparsers*."""
    parser = subparsers.add_parser(
        "plot", help="draw logged measurements into a PNG (time on x)",
        description="Read the series of the given codenames from a logger database (the cinfdata layout "
                    "ContinuousLogger writes) and draw them against time into a PNG file.",
        epilog="examples: flubber plot sqlite:///lab.sqlite temperature pressure --since 10m -o lab.png | "
               "flubber plot mysql://user:pw@dbhost/cinfdata dum_t --table dateplots_dummy --since 2h",
    )
    parser.add_argument("url", metavar="DATABASE_URL",
                        help="the logger database; example: sqlite:///lab.sqlite or mysql://user:pw@host/cinfdata")
    parser.add_argument("codenames", metavar="CODENAME", nargs="+",
                        help="codenames to draw (as in dateplots_descriptions); example: temperature pressure")
    parser.add_argument("--since", default="1h", metavar="DURATION",
                        help="only the last DURATION (default 1h; 'all' for everything); example: --since 10m")
    parser.add_argument("--table", metavar="TABLE",
                        help="the measurement table (default: the only dateplots_* table); "
                             "example: --table dateplots_lab")
    parser.add_argument("-o", "--output", default="plot.png", metavar="FILE.png",
                        help="where to write the PNG (default plot.png); example: -o run42.png")
    parser.add_argument("--title", help="title above the plot; example: --title 'bake-out run 42'")
    parser.add_argument("--width", type=float, default=10.0,
                        help="width in inches at 100 dpi (default 10); example: --width 12")
    parser.add_argument("--height", type=float, default=5.0,
                        help="height in inches at 100 dpi (default 5); example: --height 6")
    parser.set_defaults(func=run)
    return parser
