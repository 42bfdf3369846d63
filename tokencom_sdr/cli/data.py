"""``tokencom data fetch``: build the training data sets from Debian packages."""

import argparse
from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "data", help="training data sets (fetch from Debian packages)",
        description="Training data beyond the built-in corpus: modern English prose and real "
                    "photographs from Debian packages.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    fetch = commands.add_parser(
        "fetch", help="download, strip and split the data sets (idempotent)",
        description="Download the source packages with `apt-get download` (never installed), "
                    "unpack them with dpkg-deb, strip the markup, split train / held-out per "
                    "source (one source per data set held out completely) and write a "
                    "manifest.json per data set. Sources already built are skipped, so a "
                    "second run is instant and needs no network.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    fetch.add_argument("--dir", type=Path, default=None, metavar="DIR",
                       help="data folder (default: $TOKENCOM_CACHE/data or "
                            "~/.cache/tokencom_sdr/data)")
    fetch.add_argument("--only", choices=("modern-english", "photos"), default=None,
                       help="build one data set only")
    fetch.add_argument("--force", action="store_true",
                       help="rebuild sources that are already built")
    fetch.add_argument("--quiet", action="store_true", help="no progress bar")
    fetch.set_defaults(run=_run_fetch)
    parser.set_defaults(run=lambda args: parser.print_help() or 2)


def _run_fetch(args) -> int:
    from ..data.datasets import PHOTO_DATASET, TEXT_DATASET, fetch_datasets, read_manifest

    names = (args.only,) if args.only else (TEXT_DATASET, PHOTO_DATASET)
    manifests = fetch_datasets(args.dir, names, force=args.force, progress=not args.quiet)
    for name, path in manifests.items():
        manifest = read_manifest(name, path.parent.parent)
        print(f"{name}: {len(manifest['sources'])} sources "
              f"(held out completely: {', '.join(manifest['heldout_sources'])}) -> {path}")
    return 0
