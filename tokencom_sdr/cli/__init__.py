"""The ``tokencom`` command line: one module per subcommand."""

from typing import List, Optional

__all__ = ["main"]


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``tokencom`` with ``argv`` (default: the process's arguments).

    Imported on call, so that ``tokencom_sdr.cli.train`` loads on a machine
    without GNU Radio (a GPU trainer): the radio commands import it.
    """
    from .main import main as run_tokencom

    return run_tokencom(argv)
