"""``tokencom grc-check``: name the blocks of a flowgraph GRC cannot find."""

import argparse
import sys
from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "grc-check", help="check that GNU Radio Companion finds every block of a flowgraph",
        description="Load GRC's block library as grcc does and list, for each .grc file, the "
                    "blocks it cannot find, with the folders GRC searched. Other arguments "
                    "(grcc's own options) are ignored, so the grcc wrapper can pass its "
                    "command line through.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("files", nargs="*", metavar="FILE.grc", help="flowgraphs to check")
    parser.add_argument("--quiet", action="store_true", help="print nothing when all is found")
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..app.grc_check import block_search_path, load_block_library, missing_blocks

    flowgraphs = [Path(f) for f in args.files if f.endswith(".grc")]
    library = load_block_library()
    missing = missing_blocks(flowgraphs, library)
    for path, ids in missing.items():
        print(f"{path}: GRC cannot find block(s) {', '.join(ids)}; searched: "
              f"{', '.join(block_search_path()) or 'nothing'}. TokenCom blocks are installed "
              f"by `make setup` (scripts/setup_env.sh) into /usr/local/share/gnuradio/grc/blocks, "
              f"or set GRC_BLOCKS_PATH to the repository's blocks/ folder.", file=sys.stderr)
    if not missing and not args.quiet:
        print(f"{len(flowgraphs)} flowgraph(s): every block found "
              f"({sum(1 for b in library if b.startswith('tokencom_'))} TokenCom blocks "
              f"installed)")
    return 1 if missing else 0
