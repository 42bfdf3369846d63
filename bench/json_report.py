"""How every benchmark hands over its result: JSON on stdout, and in a file if asked."""

import json
from pathlib import Path
from typing import Optional, Union


def emit_json(report: dict, path: Optional[Union[str, Path]] = None, indent: int = 2) -> None:
    """Print ``report`` as JSON and, when ``path`` is given, write the same text there
    (creating its folder)."""
    text = json.dumps(report, indent=indent)
    print(text)
    if path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
