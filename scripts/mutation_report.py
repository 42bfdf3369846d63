"""Killed and surviving mutants per module, from mutmut's results in mutants/.

``make mutation`` runs mutmut (configured in setup.cfg) and then this. mutmut
records one exit code per mutant in ``mutants/<module>.py.meta``: the tests'
exit code with the mutant in place (non-zero: a test failed, the mutant is
killed; 0: every test passed, it survived).
"""

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

# pytest exit codes as mutmut files them (mutmut/stats.py).
STATUS_BY_EXIT_CODE = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests",
                       36: "timeout", 24: "timeout", -24: "timeout", None: "not checked"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--survivors", action="store_true", help="list every surviving mutant")
    args = parser.parse_args(argv)
    metas = sorted(args.mutants.rglob("*.py.meta"))
    if not metas:
        print(f"no mutmut results under {args.mutants}/: run `make mutation`", file=sys.stderr)
        return 1
    print(f"{'module':48} {'mutants':>7} {'killed':>7} {'survived':>8} {'other':>6} {'killed %':>8}")
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if not codes:
            continue
        counts = Counter(STATUS_BY_EXIT_CODE.get(code, "suspicious") for code in codes.values())
        # A timeout means the mutant broke the code badly enough to hang: killed.
        killed = counts["killed"] + counts["timeout"]
        checked = killed + counts["survived"]
        module = str(meta.relative_to(args.mutants))[:-len(".meta")]
        print(f"{module:48} {len(codes):7} {killed:7} {counts['survived']:8} "
              f"{len(codes) - checked:6} {100 * killed / max(checked, 1):7.1f}%")
        if args.survivors:
            for key, code in sorted(codes.items()):
                if code == 0:
                    print(f"    survived: {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
