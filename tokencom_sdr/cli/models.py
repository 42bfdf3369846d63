"""``tokencom models``: the committed models, from the model manifest."""

import json


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "models", help="list the committed models (file, size, sha256, data, figures)",
        description="List every committed model file from the model manifest "
                    "(tokencom_sdr/models.json): what it is, its size and SHA-256, the data it "
                    "was trained on, the command that trained it, and its measured figures with "
                    "the command that measures each.")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON")
    parser.add_argument("--refresh", action="store_true",
                        help="recompute sha256, size, shapes and config from the files and "
                             "rewrite the manifest (after retraining a model)")
    parser.set_defaults(run=run)


def run(args) -> int:
    from ..model_manifest import load_model_manifest

    if args.refresh:
        from ..training.model_manifest_writer import refresh_manifest

        print(f"refreshed {refresh_manifest()}")
    models = load_model_manifest()
    if args.json:
        print(json.dumps(models, indent=1, ensure_ascii=False))
        return 0
    print(f"{'file (in tokencom_sdr/)':<48} {'kind':<16} {'size':>8}  sha256")
    for path, entry in models.items():
        print(f"{path:<48} {entry['kind']:<16} {entry['bytes'] / 1e6:>6.2f}MB  "
              f"{entry['sha256'][:16]}")
        print(f"{'':<4}data: {'; '.join(entry['datasets'])}")
        print(f"{'':<4}trained by: {entry['trained_by']}")
        for figure in entry["figures"]:
            print(f"{'':<4}{figure['name']}: {figure['value']}  ({figure['command']})")
    return 0
