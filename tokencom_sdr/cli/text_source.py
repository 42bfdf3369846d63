"""The text message of ``tokencom loopback`` and ``tokencom tx``: ``--text TEXT``
or ``--text-file PATH``.

One command-line argument is capped by the kernel at 128 KiB, so a long text
comes from a file. The file must be UTF-8 (the BPE tokenizer is lossless for
any Unicode text, but undecodable bytes have no tokens) and at most
:data:`MAX_TEXT_FILE_BYTES`; every problem is one line naming the file.
"""

import argparse
from pathlib import Path
from typing import Optional

__all__ = ["MAX_TEXT_FILE_BYTES", "add_text_source_options", "text_from_args", "read_text_file"]

#: The largest text file a command reads (a 1 MB text is about 250,000 BPE
#: tokens in 7,800 packets of 32; the packet count field allows 65,535).
MAX_TEXT_FILE_BYTES = 8 << 20


def add_text_source_options(exclusive_group) -> None:
    """``--text`` and ``--text-file`` in ``exclusive_group`` (a mutually
    exclusive argparse group that also holds the command's other sources)."""
    exclusive_group.add_argument("--text", metavar="TEXT", help="message to send")
    exclusive_group.add_argument(
        "--text-file", type=Path, metavar="PATH",
        help=f"send the UTF-8 text of this file (at most {MAX_TEXT_FILE_BYTES >> 20} MiB; "
             f"for texts longer than one command-line argument may be)")


def text_from_args(args: argparse.Namespace) -> Optional[str]:
    """The message of ``--text`` or ``--text-file``; None when neither was given."""
    if getattr(args, "text_file", None) is not None:
        return read_text_file(args.text_file)
    return getattr(args, "text", None)


def read_text_file(path: Path) -> str:
    """The text of ``path``.

    Raises
    ------
    ValueError
        The file is missing, unreadable, larger than
        :data:`MAX_TEXT_FILE_BYTES`, not UTF-8, or empty; the message names it.
    """
    try:
        size = path.stat().st_size
        if size > MAX_TEXT_FILE_BYTES:
            raise ValueError(f"--text-file {path}: {size} bytes, more than the "
                             f"{MAX_TEXT_FILE_BYTES} a message may have")
        with open(path, "rb") as file:
            data = file.read(MAX_TEXT_FILE_BYTES + 1)
    except OSError as error:
        raise ValueError(f"--text-file {path}: {error.strerror or error}") from None
    if len(data) > MAX_TEXT_FILE_BYTES:  # it grew since stat (a pipe, a growing log)
        raise ValueError(f"--text-file {path}: more than the {MAX_TEXT_FILE_BYTES} bytes a "
                         f"message may have")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"--text-file {path}: not UTF-8 (byte {error.start}: "
                         f"{data[error.start:error.start + 1].hex()})") from None
    if not text:
        raise ValueError(f"--text-file {path}: the file is empty")
    return text
