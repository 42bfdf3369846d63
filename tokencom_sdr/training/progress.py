"""Progress bars of the trainers (tqdm on stderr, or nothing)."""

import sys


def progress_bar(total: int, enabled: bool, desc: str):
    """A tqdm bar of ``total`` steps on stderr, or None when not ``enabled``."""
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, file=sys.stderr, mininterval=2.0)
