"""Packet-loss models: which packets a lossy link drops, as hidden Markov chains.

Every model here is a Markov chain over a few hidden states, each state with
its own probability of losing a packet. One representation covers:

* **i.i.d.** loss: one state that loses a packet with probability ``p``;
* **Gilbert-Elliott**: a good and a bad state, each with its own loss
  probability (the simple Gilbert model loses every packet in the bad state
  and none in the good one; ``--loss P --burst B`` sets it from the loss rate
  and the mean burst length);
* **Yajnik et al.'s 3-state models EP1-EP6** (INFOCOM 1999, as used by
  ResiComp): state 1 keeps packets, state 2 loses them, state 3 keeps them
  but returns to state 2. Their published loss rates and mean burst lengths
  are in :data:`REFERENCE_FIGURES`.

Because the representation is shared, the analytic loss rate and mean burst
length (:meth:`MarkovLossModel.loss_rate`, :meth:`MarkovLossModel.mean_burst_length`)
are computed the same way for every model, and so are the traces
(:meth:`MarkovLossModel.process`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np

__all__ = ["MarkovLossModel", "LossProcess", "iid_loss", "gilbert_loss", "yajnik_loss",
           "make_loss_model", "trace_statistics", "LOSS_MODEL_NAMES", "REFERENCE_FIGURES"]

#: Published figures of Yajnik et al.'s models (loss rate, mean burst length in packets).
REFERENCE_FIGURES: Dict[str, Tuple[float, float]] = {
    "ep1": (0.0021, 6.5), "ep2": (0.031, 1.6), "ep3": (0.0645, 5.0),
    "ep4": (0.138, 1.7), "ep5": (0.214, 10.0), "ep6": (0.324, 2.7),
}

# The 3-state parameters (Q: state-1 self-loop, Q': state-3 self-loop, q:
# state-2 self-loop, p: state 2 -> 1; state 2 -> 3 takes the rest, 1 - p - q)
# as reproduced in ResiComp's loss tracer. For EP3 and EP5 those values
# are not a stochastic matrix (p + q > 1), and no p <= 1 - q reaches the
# published loss rate with that Q. There we keep q, which sets the burst
# length (1 / (1 - q)), make state 3 unreachable (p = 1 - q) and solve Q
# for the published loss rate: the chain then reproduces both figures.
_YAJNIK_PARAMETERS: Dict[str, Tuple[float, float, float, Optional[float]]] = {
    # name: (Q, Q', q, p); p None: fitted as described above
    "ep1": (0.99968, 0.0, 0.8462, 0.1538),
    "ep2": (0.9798, 0.3333, 0.372, 0.628),   # published p 0.6304 rounds p + q over 1
    "ep3": (None, 0.6, 0.8, None),
    "ep4": (0.9363, 0.5662, 0.4072, 0.3631),
    "ep5": (None, 0.1, 0.9, None),
    "ep6": (0.8507, 0.2, 0.6305, 0.2982),
}

#: Names :func:`make_loss_model` knows.
LOSS_MODEL_NAMES = ("iid", "gilbert", *REFERENCE_FIGURES)


@dataclass(frozen=True)
class MarkovLossModel:
    """A hidden Markov chain whose states lose packets with given probabilities.

    Parameters
    ----------
    name : str
        Label written into reports (``iid``, ``gilbert``, ``ep1`` ...).
    transition : np.ndarray, shape ``(S, S)``, float64
        Row-stochastic state transition matrix, applied once per packet.
    loss_per_state : np.ndarray, shape ``(S,)``, float64
        Probability that a packet sent in each state is lost.
    reference : (float, float) or None
        Published loss rate and mean burst length, where the model comes
        from a published table.
    """

    name: str
    transition: np.ndarray
    loss_per_state: np.ndarray
    reference: Optional[Tuple[float, float]] = None
    _stationary: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        transition = np.asarray(self.transition, dtype=np.float64)
        loss = np.asarray(self.loss_per_state, dtype=np.float64)
        states = loss.shape[0] if loss.ndim == 1 else -1
        if transition.shape != (states, states) or states < 1:
            raise ValueError(f"loss model {self.name}: transition must be (S, S) and "
                             f"loss_per_state (S,), got {transition.shape} and {loss.shape}")
        if not (np.all(np.isfinite(transition)) and np.all(transition >= 0)
                and np.allclose(transition.sum(axis=1), 1.0, atol=1e-9)):
            raise ValueError(f"loss model {self.name}: transition rows must be probabilities "
                             f"summing to 1, got {transition.tolist()}")
        if not (np.all(np.isfinite(loss)) and np.all((loss >= 0) & (loss <= 1))):
            raise ValueError(f"loss model {self.name}: loss probabilities must lie in [0, 1]")
        object.__setattr__(self, "transition", transition)
        object.__setattr__(self, "loss_per_state", loss)
        object.__setattr__(self, "_stationary", _stationary_distribution(transition))

    @property
    def stationary(self) -> np.ndarray:
        """Long-run share of packets sent in each state, ``(S,)`` float64."""
        return self._stationary.copy()

    def loss_rate(self) -> float:
        """Long-run share of lost packets."""
        return float(self._stationary @ self.loss_per_state)

    def mean_burst_length(self) -> float:
        """Mean length of a run of consecutive lost packets (inf if nothing survives).

        A burst ends once per lost packet followed by a kept one, so the mean
        is the loss rate over ``P(lost now, kept next)``.
        """
        kept_next = self.transition @ (1.0 - self.loss_per_state)
        burst_ends = float(np.sum(self._stationary * self.loss_per_state * kept_next))
        if burst_ends <= 0.0:
            return math.inf if self.loss_rate() > 0 else 0.0
        return self.loss_rate() / burst_ends

    def process(self, seed: Optional[int] = 0) -> "LossProcess":
        """A loss trace generator, started in the stationary distribution."""
        return LossProcess(self, np.random.default_rng(seed))

    def settings(self) -> Dict[str, object]:
        """What a report records: the name, the analytic figures and the reference."""
        out: Dict[str, object] = {"model": self.name, "analytic_loss_rate": self.loss_rate(),
                                  "analytic_mean_burst_length": self.mean_burst_length()}
        if self.reference is not None:
            out["reference_loss_rate"], out["reference_mean_burst_length"] = self.reference
        return out


class LossProcess:
    """One running loss trace: successive calls continue the same chain.

    A message's packets and the next message's packets see one continuous
    channel, so a bad state can span a message boundary as on a real link.
    """

    def __init__(self, model: MarkovLossModel, rng: np.random.Generator):
        self.model = model
        self.rng = rng
        # One state (i.i.d. loss) draws nothing here, so its trace is exactly
        # ``rng.random(n) < p`` for a given seed.
        states = len(model.loss_per_state)
        self.state = 0 if states == 1 else int(rng.choice(states, p=model.stationary))
        transition = model.transition
        self._stay = np.diag(transition).copy()
        leave = transition * (1.0 - np.eye(len(self._stay)))
        totals = leave.sum(axis=1, keepdims=True)
        # A state that is never left keeps a harmless all-ones CDF.
        self._jump_cdf = np.cumsum(leave / np.where(totals > 0, totals, 1.0), axis=1)
        self._jump_cdf[:, -1] = 1.0
        self._uniforms = np.empty(0)
        self._next_uniform = 0

    def lost(self, count: int) -> np.ndarray:
        """Loss flags of the next ``count`` packets, ``(count,)`` bool (True: lost)."""
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        states = self._states(count)
        loss = self.model.loss_per_state[states]
        return self.rng.random(count) < loss

    def _states(self, count: int) -> np.ndarray:
        # Whole sojourns at a time (a geometric number of packets in a state,
        # then a jump drawn from the off-diagonal row), so the Python loop runs
        # once per state change, not once per packet. A sojourn cut by the end
        # of the call goes on next time: sojourns are memoryless.
        out = np.empty(count, dtype=np.int64)
        filled = 0
        while filled < count:
            stay = self._stay[self.state]
            if stay >= 1.0:
                # Never left (one-state i.i.d. loss): no draw at all here.
                out[filled:] = self.state
                break
            # Inverse CDF of the geometric law on 1, 2, ...
            run = 1 + int(math.log(1.0 - self._uniform()) / math.log(stay)) if stay > 0 else 1
            if run > count - filled:
                out[filled:] = self.state
                break
            out[filled:filled + run] = self.state
            filled += run
            self.state = int(np.searchsorted(self._jump_cdf[self.state], self._uniform(),
                                             side="right"))
        return out

    def _uniform(self) -> float:
        # Scalar draws from a refilled block: one numpy call per 4096 draws.
        if self._next_uniform >= len(self._uniforms):
            self._uniforms = self.rng.random(4096)
            self._next_uniform = 0
        self._next_uniform += 1
        return float(self._uniforms[self._next_uniform - 1])


def iid_loss(loss: float) -> MarkovLossModel:
    """Every packet lost independently with probability ``loss`` in ``[0, 1]``."""
    _check_probability("loss", loss)
    return MarkovLossModel("iid", np.ones((1, 1)), np.array([float(loss)]))


def gilbert_loss(loss: float, burst: float) -> MarkovLossModel:
    """The simple Gilbert model with a given loss rate and mean burst length.

    The bad state loses every packet and the good state none, so a burst
    lasts as long as the bad state: ``P(bad -> good) = 1 / burst``, and the
    loss rate ``P(good -> bad) / (P(good -> bad) + P(bad -> good))`` fixes
    the other transition.

    Parameters
    ----------
    loss : float
        Long-run loss rate, in ``(0, 1)``.
    burst : float
        Mean burst length in packets, ``>= 1``, and small enough that the
        good state can be left that rarely: ``loss / (1 - loss) / burst <= 1``.
    """
    _check_probability("loss", loss)
    if not 0.0 < loss < 1.0:
        raise ValueError(f"gilbert loss rate must lie strictly between 0 and 1, got {loss}")
    if not (math.isfinite(burst) and burst >= 1.0):
        raise ValueError(f"gilbert mean burst length must be a number >= 1 packet, got {burst}")
    bad_to_good = 1.0 / burst
    good_to_bad = loss * bad_to_good / (1.0 - loss)
    if good_to_bad > 1.0:
        raise ValueError(f"a loss rate of {loss} with bursts of {burst} packets cannot be "
                         f"reached (the good state would have to last under one packet)")
    transition = np.array([[1.0 - good_to_bad, good_to_bad], [bad_to_good, 1.0 - bad_to_good]])
    return MarkovLossModel("gilbert", transition, np.array([0.0, 1.0]))


def yajnik_loss(name: str) -> MarkovLossModel:
    """Yajnik et al.'s 3-state model ``ep1`` ... ``ep6`` (see the module notes)."""
    key = name.lower()
    if key not in _YAJNIK_PARAMETERS:
        raise ValueError(f"unknown 3-state model {name!r}; known: {sorted(_YAJNIK_PARAMETERS)}")
    stay_good, stay_good3, stay_lost, lost_to_good = _YAJNIK_PARAMETERS[key]
    if stay_good is None:
        lost_to_good = 1.0 - stay_lost
        loss_rate = REFERENCE_FIGURES[key][0]
        # With state 3 unreachable, loss rate = 1 / (1 + p / (1 - Q)).
        stay_good = 1.0 - lost_to_good / (1.0 / loss_rate - 1.0)
    lost_to_good3 = max(0.0, 1.0 - stay_lost - lost_to_good)
    transition = np.array([
        [stay_good, 1.0 - stay_good, 0.0],
        [lost_to_good, stay_lost, lost_to_good3],
        [0.0, 1.0 - stay_good3, stay_good3],
    ])
    return MarkovLossModel(key, transition, np.array([0.0, 1.0, 0.0]),
                           reference=REFERENCE_FIGURES[key])


def make_loss_model(name: str, loss: Optional[float] = None,
                    burst: Optional[float] = None) -> MarkovLossModel:
    """Build a loss model by name.

    Parameters
    ----------
    name : str
        ``iid`` (needs ``loss``), ``gilbert`` (needs ``loss`` and ``burst``)
        or ``ep1`` ... ``ep6`` (fixed by the published tables; ``loss`` and
        ``burst`` must be None).
    """
    key = str(name).strip().lower()
    if key == "iid":
        if loss is None:
            raise ValueError("the iid loss model needs a loss rate (--loss P)")
        if burst not in (None, 1, 1.0):
            raise ValueError("the iid loss model has bursts of 1/(1-p) packets on average; "
                             "use --model gilbert to set a burst length")
        return iid_loss(loss)
    if key == "gilbert":
        if loss is None or burst is None:
            raise ValueError("the gilbert loss model needs a loss rate and a mean burst "
                             "length (--loss P --burst B)")
        return gilbert_loss(loss, burst)
    if key in REFERENCE_FIGURES:
        if loss is not None or burst is not None:
            raise ValueError(f"{key} is fixed by its published parameters; drop --loss/--burst")
        return yajnik_loss(key)
    raise ValueError(f"unknown loss model {name!r}; known: {', '.join(LOSS_MODEL_NAMES)}")


def trace_statistics(lost: np.ndarray) -> Dict[str, float]:
    """Measured loss rate and mean burst length of a trace.

    Parameters
    ----------
    lost : np.ndarray, shape ``(n,)``, bool
        True where a packet was lost.

    Returns
    -------
    dict with ``packets``, ``lost``, ``loss_rate``, ``bursts`` and
    ``mean_burst_length`` (0 when nothing was lost).
    """
    lost = np.asarray(lost, dtype=bool)
    starts = int(np.count_nonzero(lost[1:] & ~lost[:-1])) + int(lost[:1].sum())
    total = int(lost.sum())
    return {"packets": int(lost.size), "lost": total,
            "loss_rate": total / lost.size if lost.size else 0.0,
            "bursts": starts, "mean_burst_length": total / starts if starts else 0.0}


def _stationary_distribution(transition: np.ndarray) -> np.ndarray:
    states = transition.shape[0]
    # Solve pi (T - I) = 0 with sum(pi) = 1 as one least-squares system.
    system = np.vstack([(transition - np.eye(states)).T, np.ones((1, states))])
    rhs = np.zeros(states + 1)
    rhs[-1] = 1.0
    pi, *_ = np.linalg.lstsq(system, rhs, rcond=None)
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()


def _check_probability(label: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{label} must be a probability in [0, 1], got {value!r}")
