"""Public names of a package, imported on first use.

Several packages name an API whose modules pull in torch or GNU Radio;
importing the package (e.g. to build the command line's parser) should not
pay for that until a name is used. A package's ``__init__`` lists its names
and the modules they live in, and gets ``__getattr__`` and ``__dir__`` from
:func:`lazy_exports` (PEP 562).
"""

import importlib
from typing import Callable, Dict, List, Tuple

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Dict[str, str]) -> Tuple[Callable, Callable]:
    """``(__getattr__, __dir__)`` for ``package`` whose public ``name`` lives
    in the relative module ``exports[name]`` (e.g. ``".frame"``)."""

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name], package), name)
        globals_of_package = importlib.import_module(package).__dict__
        globals_of_package[name] = value  # later look-ups skip this function
        return value

    def __dir__() -> List[str]:
        return sorted(set(importlib.import_module(package).__dict__) | set(exports))

    return __getattr__, __dir__
