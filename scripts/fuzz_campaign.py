#!/usr/bin/env python3
"""The once-per-issue fuzz run (issue 16): every parser's fuzz tests at a
large case count, in chunks with different hypothesis seeds, and one JSON of
what ran.

Each chunk is one ``pytest`` process running one fuzz test with
``TOKENCOM_FUZZ_EXAMPLES=--chunk`` and ``--hypothesis-seed=SEED``;
hypothesis's statistics give the cases that passed, failed and were
invalid. A failing case (a crash or a wrong accept: the tests assert both)
fails the chunk, and its pytest output is kept in the JSON.

    nice -n 10 .venv/bin/python scripts/fuzz_campaign.py --chunk 25000 --chunks 2 \\
        --json docs/results/fuzz/fuzz_campaign.json
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

#: Parser -> its fuzz tests (pytest node ids from the repository root).
PARSERS = {
    "packet parser": [
        "tests/link/test_link_packets.py::test_random_bytes_never_parse_into_garbage",
        "tests/link/test_link_packets.py::test_random_sealed_bodies_never_parse_into_garbage",
        "tests/link/test_link_packets.py::test_resealed_mutations_of_valid_packets_never_parse_into_garbage",
        "tests/link/test_link_packets.py::test_corrupted_packets_are_never_accepted",
    ],
    "PHY header decoder": [
        "tests/phy/test_header_fuzz.py::test_header_decoder_takes_any_llrs",
        "tests/phy/test_header_fuzz.py::test_corrupted_header_decodes_to_itself_or_fails",
        "tests/phy/test_header_fuzz.py::test_header_window_takes_any_samples",
    ],
    "profile loader": [
        "tests/radio/test_profile_fuzz.py::test_profile_loader_field_fuzz",
        "tests/radio/test_profile_fuzz.py::test_profile_loader_byte_fuzz",
    ],
    "SigMF reader": [
        "tests/radio/test_sigmf_meta.py::test_sigmf_meta_field_fuzz",
        "tests/radio/test_sigmf_meta.py::test_sigmf_meta_byte_fuzz",
    ],
}
ROOT = Path(__file__).resolve().parent.parent
CASES = re.compile(r"(\d+) passing, (\d+) failing, and (\d+) invalid")


def run_chunk(test: str, examples: int, seed: int, timeout_factor: float) -> dict:
    """One pytest process; the case counts summed over hypothesis's phases."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "--hypothesis-show-statistics", f"--hypothesis-seed={seed}", test]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "TOKENCOM_FUZZ_EXAMPLES": str(examples),
                               "TOKENCOM_FUZZ_TIMEOUT_FACTOR": str(timeout_factor)})
    counts = [tuple(map(int, m)) for m in CASES.findall(done.stdout)]
    chunk = {"test": test, "seed": seed, "examples_asked": examples,
             "passing": sum(c[0] for c in counts), "failing": sum(c[1] for c in counts),
             "invalid": sum(c[2] for c in counts), "seconds": round(time.perf_counter() - start, 1),
             "pytest_rc": done.returncode,
             "command": f"TOKENCOM_FUZZ_EXAMPLES={examples} TOKENCOM_FUZZ_TIMEOUT_FACTOR="
                        f"{timeout_factor:g} " + " ".join(command[2:])}
    if done.returncode != 0:
        chunk["output_tail"] = (done.stdout + done.stderr)[-4000:]
    return chunk


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--chunk", type=int, default=25000, help="cases per pytest run")
    parser.add_argument("--chunks", type=int, default=4, help="runs per test, seeds 1..N")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--parsers", default=",".join(PARSERS),
                        help="comma-separated subset of: " + ", ".join(PARSERS))
    parser.add_argument("--timeout-factor", type=float, default=3.0,
                        help="each test's time budget per case, times this (raise it on a "
                             "loaded machine)")
    parser.add_argument("--only", default="",
                        help="run only the tests whose node id contains this text")
    parser.add_argument("--json", type=Path, required=True,
                        help="written after every chunk; chunks already in it are kept")
    args = parser.parse_args(argv)

    results = json.loads(args.json.read_text())["chunks"] if args.json.exists() else []
    done = {(c["test"], c["seed"], c["examples_asked"]) for c in results if c["pytest_rc"] == 0}
    for name in args.parsers.split(","):
        for test in [t for t in PARSERS[name.strip()] if args.only in t]:
            for seed in range(args.first_seed, args.first_seed + args.chunks):
                if (test, seed, args.chunk) in done:
                    continue
                chunk = run_chunk(test, args.chunk, seed, args.timeout_factor)
                print(json.dumps(chunk), flush=True)
                results.append(chunk)
                summary = {parser_name: {
                    "cases_passed": sum(c["passing"] for c in results if c["test"] in tests),
                    "failing": sum(c["failing"] for c in results if c["test"] in tests),
                    "failed_runs": sum(c["pytest_rc"] != 0 for c in results if c["test"] in tests),
                    "seconds": round(sum(c["seconds"] for c in results if c["test"] in tests), 1)}
                    for parser_name, tests in PARSERS.items()}
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps({"summary": summary, "chunks": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
