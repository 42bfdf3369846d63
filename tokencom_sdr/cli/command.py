"""Running a parsed command the way every ``tokencom`` entry point does."""

import argparse
import sys
from typing import List, Optional


def run_parsed(parser: argparse.ArgumentParser, argv: Optional[List[str]] = None) -> int:
    """Parse ``argv`` and run the chosen command; return its exit status.

    Bad input or a missing resource (``ValueError``, ``OSError``,
    ``RuntimeError``) is reported in one line without a traceback, and
    Ctrl-C stops cleanly with status 130.
    """
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError) as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
