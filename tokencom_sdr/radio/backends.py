"""The registry of radio backends, by the name a profile's ``backend`` field gives."""

from __future__ import annotations

from typing import Dict, Tuple

from .backend import RadioBackend
from .loopback import LoopbackBackend
from .pluto import PlutoBackend
from .sigmf_backend import SigmfBackend
from .usrp import UsrpBackend
from .zmq_radio import ZmqBackend

__all__ = ["get_backend", "backend_names", "BACKENDS"]

#: Every backend, by name.
BACKENDS: Dict[str, RadioBackend] = {
    backend.name: backend
    for backend in (PlutoBackend(), UsrpBackend(), ZmqBackend(), SigmfBackend(), LoopbackBackend())
}


def backend_names() -> Tuple[str, ...]:
    """Names of every backend."""
    return tuple(BACKENDS)


def get_backend(name: str) -> RadioBackend:
    """The backend called ``name``.

    Raises
    ------
    ValueError
        No backend has that name.
    """
    if name not in BACKENDS:
        raise ValueError(f"unknown radio backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return BACKENDS[name]
