"""``python -m flubber``: the same as the ``flubber`` command."""
import sys

from flubber.cli import main

if __name__ == "__main__":
    sys.exit(main())
