"""A sweep's configuration: the YAML file ``tokencom sweep`` reads, checked
field by field, and the grid of points it spans.

A config names lists (the axes) and single settings. Every combination of
the axes is one :class:`SweepPoint`: one message or image sent once through
the real chain (:mod:`~tokencom_sdr.experiments.sweep_point`). Example
(``docs/sweeps/example.yaml`` is the committed one)::

    modalities: [text, image]
    text:
      messages: 2              # held-out corpus messages (data.heldout_messages)
      recovery: [none, soft]   # context.modes.TEXT_RECOVERY_MODES
      baselines: [zlib]        # conventional senders: utf8, zlib
    image:
      images: [astronaut]      # bundled names or files
      max_side: 64
      tokenizer: [standard]    # or low-rate
      recovery: [none, context]
      baselines: [jpeg]
    snr_db: [2, 3, 4]          # or {start: 2, stop: 4, step: 1}
    mcs: [qpsk-1/2]
    channel: [awgn, {model: etu, doppler_hz: 70}]
    loss_model: [none, ep3, {model: gilbert, loss: 0.1, burst: 4}]
    aggregation: [interleaved]
    tokens_per_packet: [32]
    seeds: [0, 1]

Every problem is reported at once, one line per field
(:class:`SweepConfigError`); unknown fields are problems too, so that a
typo never silently falls back to a default.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..channel.loopback_channel import check_snr_db
from ..channel.loss_models import LOSS_MODEL_NAMES, MarkovLossModel, make_loss_model
from ..channel.mobility import DELAY_PROFILES, FadingSpec
from ..context.modes import IMAGE_RECOVERY_MODES, TEXT_RECOVERY_MODES
from ..link import AGGREGATIONS
from ..phy.mcs import MCS_NAMES
from ..radio.profile_yaml import ProfileYamlError, read_profile_yaml

__all__ = ["SweepConfig", "SweepPoint", "SweepConfigError", "load_sweep_config", "parse_sweep_config",
           "MODALITIES", "TEXT_BASELINES", "IMAGE_BASELINES", "IMAGE_TOKENIZERS", "TEXT_SOURCES",
           "MAX_POINTS"]

MODALITIES = ("text", "image")
#: Conventional senders over the same PHY (:mod:`.conventional_link`): they
#: run as points whose ``recovery`` is the codec's name.
TEXT_BASELINES = ("utf8", "zlib")
IMAGE_BASELINES = ("jpeg",)
IMAGE_TOKENIZERS = ("standard", "low-rate")
#: Text source sets: the held-out blocks of the public-domain corpus.
TEXT_SOURCES = ("heldout",)
#: Largest grid a config may span (a typo in a range should not plan a year).
MAX_POINTS = 100_000
#: Most values one SNR range may give.
MAX_SNR_VALUES = 1000

_TOP_FIELDS = ("modalities", "text", "image", "snr_db", "mcs", "channel", "loss_model", "aggregation",
               "tokens_per_packet", "seeds", "cfo", "points_per_worker")
_TEXT_FIELDS = ("source", "messages", "message_seed", "recovery", "baselines", "semantic")
_IMAGE_FIELDS = ("images", "max_side", "tokenizer", "recovery", "baselines")
_CHANNEL_FIELDS = ("model", "doppler_hz", "rician_k")
_LOSS_FIELDS = ("model", "loss", "burst")


class SweepConfigError(ValueError):
    """A config with problems; ``problems`` holds one line per bad field."""

    def __init__(self, source: str, problems: List[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"sweep config {source}: {len(self.problems)} problem(s):\n{lines}")


@dataclass(frozen=True)
class SweepPoint:
    """One message sent once: a cell of the grid.

    ``source`` is ``heldout#<i>`` (the i-th held-out message) or an image
    name or path; ``channel`` is ``awgn`` or ``<profile>@<doppler>Hz``;
    ``tokenizer`` is the image tokenizer (``""`` for text); ``loss_model``
    is ``none``, ``ep1`` ... ``ep6``, ``iid(<loss>)`` or
    ``gilbert(<loss>,<burst>)``.
    """

    modality: str
    source: str
    snr_db: float
    mcs: str
    channel: str
    loss_model: str
    aggregation: str
    tokens_per_packet: int
    tokenizer: str
    recovery: str
    seed: int

    def point_id(self) -> str:
        """A stable text key (same in every process and run): what resume matches."""
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class ChannelModel:
    """One entry of the ``channel`` axis: AWGN alone, or a 3GPP fading profile."""

    model: str = "awgn"
    doppler_hz: float = 70.0
    rician_k: float = 0.0

    @property
    def label(self) -> str:
        return "awgn" if self.model == "awgn" else f"{self.model}@{self.doppler_hz:g}Hz"

    def fading(self, seed: int) -> Optional[FadingSpec]:
        if self.model == "awgn":
            return None
        return FadingSpec(self.model, self.doppler_hz, rician_k=self.rician_k, seed=seed)


@dataclass(frozen=True)
class LossModelSpec:
    """One entry of the ``loss_model`` axis: packets lost after the radio
    (:mod:`tokencom_sdr.channel.loss_models`), or none."""

    model: str = "none"
    loss: Optional[float] = None
    burst: Optional[float] = None

    @property
    def label(self) -> str:
        if self.model == "iid":
            return f"iid({self.loss:g})"
        if self.model == "gilbert":
            return f"gilbert({self.loss:g},{self.burst:g})"
        return self.model

    def build(self) -> Optional[MarkovLossModel]:
        return None if self.model == "none" else make_loss_model(self.model, self.loss, self.burst)


@dataclass(frozen=True)
class SweepConfig:
    """A checked sweep config (see the module docstring for the fields)."""

    modalities: Tuple[str, ...]
    snr_db: Tuple[float, ...]
    mcs: Tuple[str, ...]
    channels: Tuple[ChannelModel, ...]
    loss_models: Tuple[LossModelSpec, ...]
    aggregation: Tuple[str, ...]
    tokens_per_packet: Tuple[int, ...]
    seeds: Tuple[int, ...]
    cfo: float = 0.0
    text_source: str = "heldout"
    text_messages: int = 0
    text_message_seed: int = 0
    text_recovery: Tuple[str, ...] = ()  # recovery modes, then baseline codecs
    semantic: bool = False
    images: Tuple[str, ...] = ()
    image_max_side: int = 64
    image_tokenizers: Tuple[str, ...] = ()
    image_recovery: Tuple[str, ...] = ()  # recovery modes, then baseline codecs
    points_per_worker: int = 200

    def channel_model(self, label: str) -> ChannelModel:
        return next(c for c in self.channels if c.label == label)

    def loss_model(self, label: str) -> Optional[MarkovLossModel]:
        return next(m for m in self.loss_models if m.label == label).build()

    def points(self) -> List[SweepPoint]:
        """Every point of the grid, in a fixed order (sources outermost)."""
        out = []
        for modality in self.modalities:
            if modality == "text":
                sources = [f"heldout#{i}" for i in range(self.text_messages)]
                tokenizers, recoveries = ("",), self.text_recovery
            else:
                sources, tokenizers, recoveries = self.images, self.image_tokenizers, self.image_recovery
            for source in sources:
                for tokenizer in tokenizers:
                    for channel, loss in itertools.product(self.channels, self.loss_models):
                        for mcs in self.mcs:
                            for aggregation in self.aggregation:
                                for tpp in self.tokens_per_packet:
                                    for snr in self.snr_db:
                                        for recovery in recoveries:
                                            for seed in self.seeds:
                                                out.append(SweepPoint(
                                                    modality, source, snr, mcs, channel.label, loss.label,
                                                    aggregation, tpp, tokenizer, recovery, seed))
        return out

    def to_json(self) -> Dict[str, Any]:
        out = asdict(self)
        out["channels"] = [asdict(c) | {"label": c.label} for c in self.channels]
        out["loss_models"] = [asdict(m) | {"label": m.label} for m in self.loss_models]
        return out

    def settings_sha256(self) -> str:
        """Hash of everything that changes a point's result other than the
        point itself: results made under another hash are not reused."""
        fixed = {k: v for k, v in self.to_json().items()
                 if k in ("cfo", "text_source", "text_message_seed", "semantic", "image_max_side")}
        fixed["channels"] = self.to_json()["channels"]
        fixed["loss_models"] = self.to_json()["loss_models"]
        return hashlib.sha256(json.dumps(fixed, sort_keys=True).encode()).hexdigest()


def load_sweep_config(path) -> SweepConfig:
    """Read and check a sweep config file (strict YAML: no aliases, no duplicate keys).

    Raises
    ------
    SweepConfigError
        Every problem, one line per field.
    """
    path = Path(path)
    try:
        raw = read_profile_yaml(path)
    except ProfileYamlError as error:
        raise SweepConfigError(str(path), [str(error)]) from None
    except OSError as error:
        raise SweepConfigError(str(path), [f"cannot read it: {error.strerror or error}"]) from None
    return parse_sweep_config(raw, str(path))


class _Checker:
    """Collects one message per bad field while the config is read."""

    def __init__(self):
        self.problems: List[str] = []

    def fail(self, field: str, message: str) -> None:
        self.problems.append(f"{field}: {message}")

    def unknown_fields(self, mapping: Dict, allowed, where: str) -> None:
        for key in mapping:
            if key not in allowed:
                self.fail(f"{where}{key}", f"unknown field; allowed: {', '.join(allowed)}")

    def mapping(self, value, field: str) -> Dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(field, f"must be a mapping of fields, got {type(value).__name__}")
            return {}
        return value

    def as_list(self, value, field: str, required: bool = True) -> List:
        if value is None:
            if required:
                self.fail(field, "missing (a list of values)")
            return []
        items = value if isinstance(value, list) else [value]
        if required and not items:
            self.fail(field, "empty: give at least one value")
        if len(items) != len(set(map(repr, items))):
            self.fail(field, "lists a value twice")
        return items

    def choices(self, value, field: str, allowed) -> Tuple[str, ...]:
        out = []
        for i, item in enumerate(self.as_list(value, field)):
            if item not in allowed:
                self.fail(f"{field}[{i}]", f"{item!r} is not one of {', '.join(allowed)}")
            else:
                out.append(item)
        return tuple(out)

    def integer(self, value, field: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(field, f"must be an integer in [{low}, {high}], got {value!r}")
            return low
        return value

    def number(self, value, field: str, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not np.isfinite(value) or not low <= value <= high:
            self.fail(field, f"must be a number in [{low:g}, {high:g}], got {value!r}")
            return float(low)
        return float(value)


def _baselines(check: _Checker, value, field: str, allowed) -> Tuple[str, ...]:
    """An optional list of conventional codecs (none when absent)."""
    return () if value is None else check.choices(value, field, allowed)


def _snr_values(check: _Checker, value) -> Tuple[float, ...]:
    """``snr_db``: a list of dB values, or ``{start, stop, step}`` (stop included)."""
    if isinstance(value, dict):
        check.unknown_fields(value, ("start", "stop", "step"), "snr_db.")
        start, stop, step = (value.get(k) for k in ("start", "stop", "step"))
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
                   for v in (start, stop, step)):
            check.fail("snr_db", "a range needs numbers start, stop and step")
            return ()
        if step <= 0 or stop < start or (stop - start) / step >= MAX_SNR_VALUES:
            check.fail("snr_db", f"range needs step > 0, stop >= start and at most {MAX_SNR_VALUES} values")
            return ()
        count = int(np.floor((stop - start) / step + 1e-9)) + 1
        value = [round(start + i * step, 6) for i in range(count)]
    out = []
    for i, item in enumerate(check.as_list(value, "snr_db")):
        try:
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                raise ValueError(f"SNR must be a number of dB, got {item!r}")
            out.append(check_snr_db(item))
        except ValueError as error:
            check.fail(f"snr_db[{i}]", str(error))
    return tuple(out)


def _model_entries(check: _Checker, value, name: str, default: str, allowed, fields):
    """The entries of an axis of models, each a model name or a mapping of
    ``model`` and its settings: yields ``(field, entry)`` for each entry whose
    model is known, after reporting unknown settings and models."""
    for i, item in enumerate(check.as_list(value if value is not None else [default], name)):
        field = f"{name}[{i}]"
        entry = {"model": item} if isinstance(item, str) else check.mapping(item, field)
        check.unknown_fields(entry, fields, f"{field}.")
        if entry.get("model") not in allowed:
            check.fail(f"{field}.model", f"{entry.get('model')!r} is not one of {', '.join(allowed)}")
            continue
        yield field, entry


def _unique_labels(check: _Checker, items, name: str) -> tuple:
    labels = [item.label for item in items]
    if len(labels) != len(set(labels)):
        check.fail(name, f"lists the same {name.replace('_', ' ')} twice")
    return tuple(items)


def _channels(check: _Checker, value) -> Tuple[ChannelModel, ...]:
    """``channel``: ``awgn``, a profile name, or ``{model, doppler_hz, rician_k}``."""
    out = []
    for field, entry in _model_entries(check, value, "channel", "awgn", ("awgn",) + tuple(DELAY_PROFILES),
                                       _CHANNEL_FIELDS):
        model = entry["model"]
        doppler = check.number(entry.get("doppler_hz", 70.0), f"{field}.doppler_hz", 0, 10_000)
        rician_k = check.number(entry.get("rician_k", 0.0), f"{field}.rician_k", 0, 1e3)
        if model == "awgn" and ("doppler_hz" in entry or "rician_k" in entry):
            check.fail(field, "awgn has no doppler_hz or rician_k")
        try:
            FadingSpec(model, doppler, rician_k=rician_k) if model != "awgn" else None
        except ValueError as error:
            check.fail(field, str(error))
            continue
        out.append(ChannelModel(model, doppler, rician_k))
    return _unique_labels(check, out, "channel")


def _loss_models(check: _Checker, value) -> Tuple[LossModelSpec, ...]:
    """``loss_model``: ``none``, ``ep1`` ... ``ep6``, or ``{model, loss, burst}``
    for ``iid`` (loss) and ``gilbert`` (loss and mean burst length)."""
    out = []
    for field, entry in _model_entries(check, value, "loss_model", "none", ("none",) + LOSS_MODEL_NAMES,
                                       _LOSS_FIELDS):
        spec = LossModelSpec(entry["model"], entry.get("loss"), entry.get("burst"))
        try:
            spec.build()
        except (ValueError, TypeError) as error:
            check.fail(field, str(error))
            continue
        out.append(spec)
    return _unique_labels(check, out, "loss_model")


def parse_sweep_config(raw: Any, source: str = "<config>") -> SweepConfig:
    """Check a parsed config (a mapping) and build the :class:`SweepConfig`.

    Raises
    ------
    SweepConfigError
        Every problem, one line per field.
    """
    check = _Checker()
    if not isinstance(raw, dict):
        raise SweepConfigError(source, ["the file must be a mapping of fields "
                                        "(see docs/sweeps/example.yaml)"])
    check.unknown_fields(raw, _TOP_FIELDS, "")
    modalities = check.choices(raw.get("modalities"), "modalities", MODALITIES)
    fields: Dict[str, Any] = {}
    text = check.mapping(raw.get("text"), "text")
    image = check.mapping(raw.get("image"), "image")
    if "text" in modalities:
        check.unknown_fields(text, _TEXT_FIELDS, "text.")
        source_set = text.get("source", "heldout")
        if source_set not in TEXT_SOURCES:
            check.fail("text.source", f"{source_set!r} is not one of {', '.join(TEXT_SOURCES)}")
        fields.update(
            text_source=source_set,
            text_messages=check.integer(text.get("messages"), "text.messages", 1, 10_000),
            text_message_seed=check.integer(text.get("message_seed", 0), "text.message_seed", 0, 2**31 - 1),
            text_recovery=check.choices(text.get("recovery"), "text.recovery", TEXT_RECOVERY_MODES)
            + _baselines(check, text.get("baselines"), "text.baselines", TEXT_BASELINES),
        )
        semantic = text.get("semantic", False)
        if not isinstance(semantic, bool):
            check.fail("text.semantic", f"must be true or false, got {semantic!r}")
        fields["semantic"] = semantic is True
    elif text:
        check.fail("text", "given, but 'text' is not in modalities")
    if "image" in modalities:
        check.unknown_fields(image, _IMAGE_FIELDS, "image.")
        images = check.as_list(image.get("images"), "image.images")
        for i, name in enumerate(images):
            if not isinstance(name, str) or not name:
                check.fail(f"image.images[{i}]", f"must be a bundled image name or a path, got {name!r}")
        fields.update(
            images=tuple(str(n) for n in images),
            image_max_side=check.integer(image.get("max_side", 64), "image.max_side", 16, 4096),
            image_tokenizers=check.choices(image.get("tokenizer", ["standard"]), "image.tokenizer",
                                           IMAGE_TOKENIZERS),
            image_recovery=check.choices(image.get("recovery"), "image.recovery", IMAGE_RECOVERY_MODES)
            + _baselines(check, image.get("baselines"), "image.baselines", IMAGE_BASELINES),
        )
    elif image:
        check.fail("image", "given, but 'image' is not in modalities")
    fields.update(
        modalities=modalities,
        snr_db=_snr_values(check, raw.get("snr_db")),
        mcs=check.choices(raw.get("mcs"), "mcs", MCS_NAMES),
        channels=_channels(check, raw.get("channel")),
        loss_models=_loss_models(check, raw.get("loss_model")),
        aggregation=check.choices(raw.get("aggregation", ["interleaved"]), "aggregation",
                                  tuple(AGGREGATIONS)),
        tokens_per_packet=tuple(check.integer(v, f"tokens_per_packet[{i}]", 1, 1024) for i, v in
                                enumerate(check.as_list(raw.get("tokens_per_packet", [32]),
                                                        "tokens_per_packet"))),
        seeds=tuple(check.integer(v, f"seeds[{i}]", 0, 2**31 - 1)
                    for i, v in enumerate(check.as_list(raw.get("seeds", [0]), "seeds"))),
        cfo=check.number(raw.get("cfo", 0.0), "cfo", -0.1, 0.1),
        points_per_worker=check.integer(raw.get("points_per_worker", 200), "points_per_worker", 1, 10**6),
    )
    if check.problems:
        raise SweepConfigError(source, check.problems)
    config = SweepConfig(**fields)
    count = len(config.points())
    if count > MAX_POINTS:
        raise SweepConfigError(source, [f"the grid has {count} points, more than {MAX_POINTS}"])
    return config
