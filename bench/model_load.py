#!/usr/bin/env python3
"""Load time and size of every committed default model (issue 12: under 2 s each).

Each default is loaded in a fresh Python process, the way a receiver starts:
the time counts reading the file, checking it against the model manifest and
building the model (the package and torch are imported first, and not
counted). ``text recovery`` is what ``TextRecovery()`` loads: the general
text model, the corpus memory (its look-up index is built at load) and the
corpus expert with its memory part. Also reports the bytes of every model
file in the package (what a clone carries). Prints one JSON object.

    .venv/bin/python bench/model_load.py --json docs/results/model_load.json
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from json_report import emit_json  # bench/, first on sys.path when a bench runs

# name -> (imports, the statement that loads the default)
DEFAULTS = {
    "text tokenizer": ("from tokencom_sdr.tokens.text_bpe import TextTokenizer",
                       "TextTokenizer.default()"),
    "text recovery (model, memory, corpus expert)": (
        "from tokencom_sdr.context.text_recovery import TextRecovery", "TextRecovery()"),
    "image tokenizer, standard": ("from tokencom_sdr.tokens.image_vq import ImageTokenizer",
                                  "ImageTokenizer.default('standard')"),
    "image tokenizer, low-rate": ("from tokencom_sdr.tokens.image_vq import ImageTokenizer",
                                  "ImageTokenizer.default('low-rate')"),
    "image context, standard": ("from tokencom_sdr.context.image_maskgit import "
                                "ImageContextModel", "ImageContextModel.default('standard')"),
    "image context, low-rate": ("from tokencom_sdr.context.image_maskgit import "
                                "ImageContextModel", "ImageContextModel.default('low-rate')"),
    "image context, caption": ("from tokencom_sdr.context.image_maskgit import "
                               "ImageContextModel", "ImageContextModel.default_caption()"),
}

_CHILD = """
import json, time, torch
torch.set_num_threads(1)
{imports}
start = time.perf_counter()
{load}
print(json.dumps(time.perf_counter() - start))
"""


def load_seconds(imports: str, load: str) -> float:
    """Seconds to run ``load`` in a fresh interpreter, after ``imports``."""
    done = subprocess.run([sys.executable, "-c", _CHILD.format(imports=imports, load=load)],
                          capture_output=True, text=True, check=True,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3,
                        help="fresh processes per model; the median is reported")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import tokencom_sdr
    from tokencom_sdr.model_manifest import load_model_manifest

    package = Path(tokencom_sdr.__file__).parent
    loads = {}
    for name, (imports, load) in DEFAULTS.items():
        times = sorted(load_seconds(imports, load) for _ in range(args.repeats))
        loads[name] = {"seconds_median": round(times[len(times) // 2], 3),
                       "seconds_max": round(times[-1], 3)}
    files = {path: (package / path).stat().st_size for path in load_model_manifest()}
    slowest = max(loads, key=lambda n: loads[n]["seconds_median"])
    emit_json({"load": loads, "model_file_bytes": files,
               "model_files_total_bytes": sum(files.values()),
               "load_average_1min": os.getloadavg()[0],
               "summary": {"slowest_load": [slowest, loads[slowest]["seconds_median"], "<= 2 s"],
                           "model_files_total_mb": round(sum(files.values()) / 1e6, 1)}},
              args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
