"""Image tokenizer: a VQ-VAE that turns an RGB image into a grid of codebook ids.

An image of ``H x W`` pixels becomes a ``(ceil(H/f), ceil(W/f))`` grid of ids
in ``[0, K)``, each sent as ``log2(K)`` bits. Two embedded operating points:

=============  ===  =====  ========================  =============
name           f    K      bits per pixel            weight file
=============  ===  =====  ========================  =============
``standard``   4    512    9 / 16  = 0.5625          ``image_vq_standard.safetensors``
``low-rate``   8    1024   10 / 64 = 0.15625         ``image_vq_lowrate.safetensors``
=============  ===  =====  ========================  =============

Images of any size are padded (edge reflection) to a multiple of ``f`` before
encoding; :meth:`ImageTokenizer.decode` crops the padding off again when told
the original size.

Weights are safetensors files whose metadata holds the JSON
:class:`VQConfig`; nothing is unpickled. A missing, truncated or foreign file
raises :class:`WeightFileError` with the path and what is wrong.

Python::

    tok = ImageTokenizer.default("standard")
    frame = tok.encode_frame(image)            # TokenFrame, shape (rows, cols)
    restored = tok.decode_frame(frame, image.shape[:2])
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.image_data import to_rgb_uint8
from ..model_manifest import ModelManifestError, verify_model_bytes
from .frame import Modality, TokenFrame
from .registry import tokenizer_id

__all__ = ["VQConfig", "VQVAE", "VectorQuantizer", "ImageTokenizer", "WeightFileError",
           "verify_default_weights",
           "TOKENIZER_NAMES", "default_weight_path", "save_module", "load_module_file"]

_DATA = Path(__file__).resolve().parent / "data"

#: Embedded tokenizers: name -> weight file.
TOKENIZER_NAMES: Dict[str, str] = {
    "standard": "image_vq_standard.safetensors",
    "low-rate": "image_vq_lowrate.safetensors",
}

_FORMAT = "tokencom-image-vq/1"


class WeightFileError(ValueError):
    """A weight file is missing, truncated, corrupt, or of the wrong kind."""


def default_weight_path(name: str) -> Path:
    """Path of an embedded tokenizer's weights (``standard`` or ``low-rate``)."""
    key = name.replace("_", "-").lower()
    if key == "lowrate":
        key = "low-rate"
    if key not in TOKENIZER_NAMES:
        raise ValueError(f"unknown image tokenizer {name!r}; known: {sorted(TOKENIZER_NAMES)}")
    return _DATA / TOKENIZER_NAMES[key]


# ---------------------------------------------------------------------------
# Weight files shared by the tokenizer and the context model
# ---------------------------------------------------------------------------

def save_module(module: nn.Module, path: Union[str, Path], kind: str, config: dict,
                extra: Optional[dict] = None) -> Path:
    """Write ``module``'s state as safetensors with a JSON config in the metadata.

    Parameters
    ----------
    kind : str
        Format tag checked on load, so a context model is never loaded as a
        tokenizer.
    config : dict
        JSON-serialisable; rebuilds the module.
    extra : dict, optional
        JSON-serialisable notes (training steps, metrics).
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # float16 on disk halves the files; the weights are used as float32.
    state = {k: (v.detach().to("cpu").half() if v.is_floating_point() else v.detach().to("cpu"))
             .contiguous() for k, v in module.state_dict().items()}
    metadata = {"format": kind, "config": json.dumps(config)}
    if extra:
        metadata["extra"] = json.dumps(extra)
    save_file(state, str(path), metadata=metadata)
    return path


def verify_default_weights(path: Path, package_folder: str) -> None:
    """Refuse an embedded weight file that differs from its model-manifest entry.

    Parameters
    ----------
    path : Path
        The file inside the package.
    package_folder : str
        Its folder inside the package (``"tokens/data"``), which with the
        file name makes the manifest key.

    Raises
    ------
    WeightFileError
        Missing file, or other tensor shapes or SHA-256 than the manifest's.
    """
    try:
        blob = Path(path).read_bytes()
    except OSError as error:
        raise WeightFileError(f"cannot read weight file {path}: {error}") from None
    try:
        verify_model_bytes(blob, f"{package_folder}/{Path(path).name}", str(path))
    except ModelManifestError as error:
        raise WeightFileError(str(error)) from None


def load_module_file(path: Union[str, Path], kind: str) -> Tuple[Dict[str, torch.Tensor], dict, dict]:
    """Read a file written by :func:`save_module`.

    Returns
    -------
    (state dict, config dict, extra dict)

    Raises
    ------
    WeightFileError
        Missing, unreadable, truncated or corrupt file, or one of another kind.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise WeightFileError(f"weight file not found: {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            state = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, RuntimeError, ValueError) as error:
        raise WeightFileError(
            f"{path} is not a readable safetensors file (truncated or corrupt?): {error}"
        ) from None
    if metadata.get("format") != kind:
        raise WeightFileError(
            f"{path} holds {metadata.get('format')!r} weights, expected {kind!r}")
    try:
        config = json.loads(metadata["config"])
        extra = json.loads(metadata.get("extra", "{}"))
    except (KeyError, json.JSONDecodeError) as error:
        raise WeightFileError(f"{path} has no valid config in its metadata: {error}") from None
    for key, tensor in state.items():
        if tensor.is_floating_point():
            if not torch.isfinite(tensor).all():
                raise WeightFileError(f"{path}: tensor {key!r} holds NaN or infinite values")
            state[key] = tensor.float()
    return state, config, extra


def load_state_checked(module: nn.Module, state: Dict[str, torch.Tensor], path) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        # Missing keys or shape mismatches: the file does not match its config.
        first = str(error).splitlines()[0:3]
        raise WeightFileError(f"{path}: weights do not match their config: "
                              f"{' '.join(first)}") from None


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------

@dataclass
class VQConfig:
    """Architecture of a VQ-VAE tokenizer.

    Attributes
    ----------
    downsample : int
        Pixels per token side, ``f``; a power of two, 2..32.
    codebook_size : int
        Codebook entries ``K``; a power of two so that every
        ``log2(K)``-bit pattern is a valid id.
    latent_dim : int
        Width of a codebook vector.
    channels : tuple of int
        Feature width after each downsampling stage (one per stage,
        ``log2(f)`` entries).
    res_blocks : int
        Residual blocks at the bottleneck (encoder and decoder each).
    """

    downsample: int = 4
    codebook_size: int = 512
    latent_dim: int = 32
    channels: Tuple[int, ...] = (64, 128)
    res_blocks: int = 2

    def __post_init__(self):
        self.channels = tuple(int(c) for c in self.channels)
        f = int(self.downsample)
        if f < 2 or f > 32 or f & (f - 1):
            raise ValueError(f"downsample must be a power of two in 2..32, got {f}")
        k = int(self.codebook_size)
        if k < 2 or k & (k - 1):
            raise ValueError(f"codebook_size must be a power of two >= 2, got {k}")
        if len(self.channels) != int(math.log2(f)):
            raise ValueError(f"channels needs one width per downsampling stage "
                             f"({int(math.log2(f))} for f={f}), got {self.channels}")
        if self.latent_dim < 1 or self.res_blocks < 0 or min(self.channels) < 1:
            raise ValueError(f"invalid VQ config {self}")

    @property
    def bits_per_token(self) -> int:
        return int(math.log2(self.codebook_size))

    @property
    def bits_per_pixel(self) -> float:
        """Rate on an image whose sides are multiples of ``f``."""
        return self.bits_per_token / self.downsample ** 2

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "VQConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown VQ config keys {sorted(unknown)}")
        return cls(**d)


#: The embedded operating points.
STANDARD_CONFIG = VQConfig(downsample=4, codebook_size=512, latent_dim=32, channels=(48, 128))
LOWRATE_CONFIG = VQConfig(downsample=8, codebook_size=1024, latent_dim=32,
                          channels=(32, 64, 128))


class _ResBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


class _Encoder(nn.Module):
    def __init__(self, cfg: VQConfig):
        super().__init__()
        layers = []
        prev = 3
        for i, width in enumerate(cfg.channels):
            # Strided 4x4 convs halve the resolution per stage; the first stage
            # starts straight from pixels to keep full-resolution work small.
            layers.append(nn.Conv2d(prev, width, 4, stride=2, padding=1))
            if i < len(cfg.channels) - 1:
                layers.append(_ResBlock(width))
            prev = width
        layers += [_ResBlock(prev) for _ in range(cfg.res_blocks)]
        layers += [nn.SiLU(), nn.Conv2d(prev, cfg.latent_dim, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class _Decoder(nn.Module):
    def __init__(self, cfg: VQConfig):
        super().__init__()
        widths = list(cfg.channels[::-1])
        layers = [nn.Conv2d(cfg.latent_dim, widths[0], 3, padding=1)]
        layers += [_ResBlock(widths[0]) for _ in range(cfg.res_blocks)]
        for i, width in enumerate(widths):
            out = widths[i + 1] if i + 1 < len(widths) else max(widths[-1] // 2, 16)
            # Nearest upsampling then a 3x3 conv: no checkerboard artefacts.
            layers += [nn.Upsample(scale_factor=2, mode="nearest"),
                       nn.Conv2d(width, out, 3, padding=1)]
            if i + 1 < len(widths):
                layers.append(_ResBlock(out))
            else:
                layers.append(nn.SiLU())
            last = out
        layers.append(nn.Conv2d(last, 3, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)


class VectorQuantizer(nn.Module):
    """Nearest-codeword quantisation with an EMA-updated codebook.

    The codebook is not learned by gradient: each codeword tracks the running
    mean of the encoder outputs assigned to it (exponential moving average),
    which is stabler on small data. :meth:`init_from` seeds the codebook from
    encoder outputs by k-means and :meth:`restart_dead` moves unused codewords
    onto encoder outputs, the two things that keep it from collapsing.

    Parameters
    ----------
    codebook_size : int
    dim : int
    decay : float
        EMA decay.
    """

    def __init__(self, codebook_size: int, dim: int, decay: float = 0.99):
        super().__init__()
        self.codebook_size = codebook_size
        self.dim = dim
        self.decay = decay
        self.register_buffer("codebook", torch.randn(codebook_size, dim) * 0.1)
        self.register_buffer("ema_count", torch.ones(codebook_size))
        self.register_buffer("ema_sum", self.codebook.clone())

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """Ids of the nearest codewords.

        Parameters
        ----------
        z : torch.Tensor, shape ``(N, dim)``, dtype ``float32``

        Returns
        -------
        torch.Tensor, shape ``(N,)``, dtype ``int64``
        """
        out = torch.empty(z.shape[0], dtype=torch.int64, device=z.device)
        cb = self.codebook
        cb_sq = (cb * cb).sum(1)
        # Chunked so that a large image does not build an N x K matrix at once.
        for start in range(0, z.shape[0], 16384):
            chunk = z[start:start + 16384]
            dist = cb_sq[None, :] - 2.0 * chunk @ cb.t()
            out[start:start + 16384] = dist.argmin(1)
        return out

    def forward(self, z: torch.Tensor):
        """Quantise a latent map.

        Parameters
        ----------
        z : torch.Tensor, shape ``(B, dim, h, w)``, dtype ``float32``

        Returns
        -------
        z_q : torch.Tensor, shape ``(B, dim, h, w)``
            Straight-through quantised latents (gradient flows to ``z``).
        ids : torch.Tensor, shape ``(B, h, w)``, dtype ``int64``
        commit : torch.Tensor, scalar
            Commitment loss ``|z - sg(z_q)|^2``.
        """
        b, d, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, d)
        ids = self.nearest(flat.detach())
        q = self.codebook[ids]
        if self.training:
            with torch.no_grad():
                onehot_count = torch.bincount(ids, minlength=self.codebook_size).float()
                sums = torch.zeros_like(self.ema_sum).index_add_(0, ids, flat.detach())
                self.ema_count.mul_(self.decay).add_(onehot_count, alpha=1 - self.decay)
                self.ema_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
                n = self.ema_count.sum()
                # Laplace smoothing keeps rarely used codes from dividing by ~0.
                count = (self.ema_count + 1e-5) / (n + self.codebook_size * 1e-5) * n
                self.codebook.copy_(self.ema_sum / count[:, None])
        commit = F.mse_loss(flat, q.detach())
        q = flat + (q - flat).detach()
        z_q = q.reshape(b, h, w, d).permute(0, 3, 1, 2)
        return z_q, ids.reshape(b, h, w), commit

    @torch.no_grad()
    def init_from(self, samples: torch.Tensor, iters: int = 10, seed: int = 0) -> None:
        """k-means seed of the codebook.

        Parameters
        ----------
        samples : torch.Tensor, shape ``(N, dim)``, ``N >= codebook_size``
        """
        if samples.shape[0] < self.codebook_size:
            raise ValueError(f"need at least {self.codebook_size} samples to seed the "
                             f"codebook, got {samples.shape[0]}")
        g = torch.Generator().manual_seed(seed)
        centres = samples[torch.randperm(samples.shape[0], generator=g)[:self.codebook_size]].clone()
        for _ in range(iters):
            cb_sq = (centres * centres).sum(1)
            ids = (cb_sq[None] - 2 * samples @ centres.t()).argmin(1)
            sums = torch.zeros_like(centres).index_add_(0, ids, samples)
            counts = torch.bincount(ids, minlength=self.codebook_size).float()
            used = counts > 0
            centres[used] = sums[used] / counts[used, None]
            # Empty clusters jump to random samples.
            n_empty = int((~used).sum())
            if n_empty:
                centres[~used] = samples[torch.randint(samples.shape[0], (n_empty,), generator=g)]
        self.codebook.copy_(centres)
        self.ema_sum.copy_(centres)
        self.ema_count.fill_(1.0)

    @torch.no_grad()
    def restart_dead(self, samples: torch.Tensor, threshold: float = 0.03) -> int:
        """Move codewords whose EMA usage fell below ``threshold`` onto random
        encoder outputs (with a little noise so that they split a cluster).

        Parameters
        ----------
        samples : torch.Tensor, shape ``(N, dim)``

        Returns
        -------
        int
            Codewords restarted.
        """
        dead = self.ema_count < threshold
        n = int(dead.sum())
        if n:
            pick = samples[torch.randint(samples.shape[0], (n,))]
            pick = pick + 0.01 * pick.std() * torch.randn_like(pick)
            self.codebook[dead] = pick
            self.ema_sum[dead] = pick
            self.ema_count[dead] = 1.0
        return n


class VQVAE(nn.Module):
    """Encoder, quantiser and decoder.

    Images enter and leave in ``[0, 1]``; internally they are centred to
    ``[-1, 1]``.
    """

    def __init__(self, cfg: VQConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = _Encoder(cfg)
        self.quantizer = VectorQuantizer(cfg.codebook_size, cfg.latent_dim)
        self.decoder = _Decoder(cfg)

    def encode_latent(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` in [0, 1], ``H, W`` multiples of ``f`` -> ``(B, D, H/f, W/f)``."""
        return self.encoder(x * 2.0 - 1.0)

    def decode_latent(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, D, h, w)`` -> ``(B, 3, h*f, w*f)`` in about [0, 1] (not clipped)."""
        return (self.decoder(z) + 1.0) * 0.5

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """``(B, h, w)`` int64 ids -> ``(B, D, h, w)`` codewords."""
        return self.quantizer.codebook[ids].permute(0, 3, 1, 2)

    def forward(self, x: torch.Tensor, quantize: bool = True):
        """Reconstruct ``x``.

        Returns
        -------
        recon : torch.Tensor, shape ``(B, 3, H, W)``
        ids : torch.Tensor, shape ``(B, H/f, W/f)``, or None without quantisation
        commit : torch.Tensor, scalar
        """
        z = self.encode_latent(x)
        if not quantize:
            return self.decode_latent(z), None, z.new_zeros(())
        z_q, ids, commit = self.quantizer(z)
        return self.decode_latent(z_q), ids, commit


# ---------------------------------------------------------------------------
# The tokenizer API
# ---------------------------------------------------------------------------

def _pad_to_multiple(x: torch.Tensor, f: int) -> torch.Tensor:
    """Pad ``(B, C, H, W)`` on the bottom and right to multiples of ``f``."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % f, (-w) % f
    if not ph and not pw:
        return x
    # Reflection keeps edge statistics natural; it needs pad < size.
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


class ImageTokenizer:
    """An image <-> token-grid codec around a trained :class:`VQVAE`.

    Parameters
    ----------
    model : VQVAE
    name : str
        Label for reports (``standard``, ``low-rate``, or a file name).
    device : str

    Attributes
    ----------
    search_candidates : int
        0 or 1 (the default): each position gets the codeword nearest to its
        latent. ``N >= 2``: the transmitter chooses among the ``N`` nearest
        by the decoded image's error (:mod:`.id_search`): better pictures
        at the same bits, for seconds of encoding per image. Decoding is the
        same either way.
    refine : int
        0 (the default): off. ``N >= 1``: ``N`` rounds in which a position's
        codeword may be replaced by one of its 4 nearest where a gradient of
        the decoded picture's error predicts a closer picture
        (:func:`.id_search.refine_ids`): one round gets two thirds of the
        search's gain for a fifth of a second per 256 x 256 image, four
        nearly all of it. Ignored while ``search_candidates >= 2``.
    """

    def __init__(self, model: VQVAE, name: str = "custom", device: str = "cpu"):
        self.model = model.to(device).eval()
        self.cfg = model.cfg
        self.name = name
        self.device = torch.device(device)
        self._neutral: Optional[int] = None
        self._search_candidates = 0
        self._refine = 0

    @property
    def search_candidates(self) -> int:
        return self._search_candidates

    @search_candidates.setter
    def search_candidates(self, value: int) -> None:
        value = int(value)
        if value < 0:
            raise ValueError(f"search_candidates must be 0 (off) or more, got {value}")
        self._search_candidates = value

    @property
    def refine(self) -> int:
        return self._refine

    @refine.setter
    def refine(self, rounds: int) -> None:
        rounds = int(rounds)
        if rounds < 0:
            raise ValueError(f"refine must be 0 (off) or a number of rounds, got {rounds}")
        self._refine = rounds

    # -- loading -----------------------------------------------------------

    @classmethod
    def from_file(cls, path: Union[str, Path], device: str = "cpu",
                  name: Optional[str] = None) -> "ImageTokenizer":
        """Load a tokenizer written by :meth:`save` (safetensors, no pickle).

        Raises
        ------
        WeightFileError
        """
        state, config, _ = load_module_file(path, _FORMAT)
        try:
            cfg = VQConfig.from_dict(config)
        except (TypeError, ValueError) as error:
            raise WeightFileError(f"{path}: invalid tokenizer config: {error}") from None
        model = VQVAE(cfg)
        load_state_checked(model, state, path)
        return cls(model, name or Path(path).stem, device)

    @classmethod
    def default(cls, name: str = "standard", device: str = "cpu") -> "ImageTokenizer":
        """One of the embedded tokenizers: ``standard`` or ``low-rate``.

        Raises
        ------
        WeightFileError
            Also when the file differs from its model-manifest entry.
        """
        path = default_weight_path(name)
        key = "low-rate" if "low" in name.lower() else "standard"
        verify_default_weights(path, "tokens/data")
        return cls.from_file(path, device, key)

    def save(self, path: Union[str, Path], extra: Optional[dict] = None) -> Path:
        """Write the weights and config as safetensors."""
        return save_module(self.model, path, _FORMAT, self.cfg.to_dict(), extra)

    # -- properties --------------------------------------------------------

    @property
    def downsample(self) -> int:
        return self.cfg.downsample

    @property
    def codebook_size(self) -> int:
        return self.cfg.codebook_size

    @property
    def bits_per_token(self) -> int:
        return self.cfg.bits_per_token

    def grid_shape(self, image_size: Sequence[int]) -> Tuple[int, int]:
        """Token grid ``(rows, cols)`` of an ``(H, W)`` image."""
        f = self.downsample
        return (-(-int(image_size[0]) // f), -(-int(image_size[1]) // f))

    def bits_per_pixel(self, image_size: Sequence[int]) -> float:
        """Bits sent per original pixel (padding included in the cost)."""
        rows, cols = self.grid_shape(image_size)
        return rows * cols * self.bits_per_token / (int(image_size[0]) * int(image_size[1]))

    @property
    def neutral_id(self) -> int:
        """The code of a flat mid-grey patch: the "no recovery" fill value."""
        if self._neutral is None:
            f = self.downsample
            grey = np.full((4 * f, 4 * f, 3), 128, dtype=np.uint8)
            grid = self.encode(grey)
            self._neutral = int(grid[2, 2])
        return self._neutral

    # -- encode / decode ---------------------------------------------------

    def _to_tensor(self, image: np.ndarray) -> torch.Tensor:
        image = to_rgb_uint8(image)
        x = torch.from_numpy(np.array(image, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
        return _pad_to_multiple(x.to(self.device), self.downsample)

    @torch.no_grad()
    def encode(self, image: np.ndarray) -> np.ndarray:
        """Tokenize an image.

        Parameters
        ----------
        image : np.ndarray, shape ``(H, W, 3)`` (or grey/RGBA), dtype ``uint8``

        Returns
        -------
        np.ndarray, shape ``(ceil(H/f), ceil(W/f))``, dtype ``int64``
            Ids in ``[0, K)``, row-major.
        """
        x = self._to_tensor(image)
        if self._search_candidates > 1:
            from .id_search import search_ids
            return search_ids(self.model, x, self._search_candidates).cpu().numpy().astype(np.int64)
        if self.refine:
            from .id_search import REFINE_CURVATURE, refine_ids
            # A tokenizer of one's own has no calibrated curvature: it borrows
            # the standard one's (the gain depends little on it).
            curvature = REFINE_CURVATURE.get(self.name, REFINE_CURVATURE["standard"])
            return refine_ids(self.model, x, curvature, rounds=self._refine
                              ).cpu().numpy().astype(np.int64)
        return self._nearest_ids(x)[0]

    def _nearest_ids(self, x: torch.Tensor) -> np.ndarray:
        """``(B, 3, H, W)`` padded pixels -> ``(B, H/f, W/f)`` int64 ids of the
        codewords nearest to the encoder's latents."""
        z = self.model.encode_latent(x)
        b, d, h, w = z.shape
        ids = self.model.quantizer.nearest(z.permute(0, 2, 3, 1).reshape(-1, d))
        return ids.reshape(b, h, w).cpu().numpy().astype(np.int64)

    @torch.no_grad()
    def encode_batch(self, images: np.ndarray, chunk: int = 256) -> np.ndarray:
        """Tokenize many images of one size at once (what :meth:`encode` gives
        each, without a forward pass per image).

        Parameters
        ----------
        images : np.ndarray, shape ``(N, H, W, 3)``, dtype ``uint8``
        chunk : int
            Images per forward pass.

        Returns
        -------
        np.ndarray, shape ``(N, ceil(H/f), ceil(W/f))``, dtype ``int64``
        """
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"images must be (N, H, W, 3) uint8, got {images.shape} {images.dtype}")
        if (self._search_candidates > 1 or self.refine) and len(images):
            # The search and the refinement decode each image: one at a time.
            return np.stack([self.encode(image) for image in images])
        grids = []
        for start in range(0, len(images), chunk):
            x = torch.from_numpy(images[start:start + chunk].astype(np.float32) / 255.0)
            x = _pad_to_multiple(x.permute(0, 3, 1, 2).to(self.device), self.downsample)
            grids.append(self._nearest_ids(x))
        if not grids:
            rows, cols = self.grid_shape(images.shape[1:3])
            return np.zeros((0, rows, cols), np.int64)
        return np.concatenate(grids)

    def encode_frame(self, image: np.ndarray) -> TokenFrame:
        """Tokenize into a :class:`TokenFrame` (``Modality.IMAGE``, shape ``(rows, cols)``)."""
        grid = self.encode(image)
        return TokenFrame(ids=grid.reshape(-1), modality=Modality.IMAGE, shape=grid.shape,
                          bits_per_token=self.bits_per_token,
                          tokenizer=tokenizer_id(Modality.IMAGE, self.name))

    def _check_ids(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.ndim != 2:
            raise ValueError(f"expected a (rows, cols) id grid, got shape {ids.shape}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.codebook_size):
            raise ValueError(f"token ids must lie in [0, {self.codebook_size})")
        return ids.astype(np.int64)

    def _finish(self, x: torch.Tensor, image_size: Optional[Sequence[int]]) -> np.ndarray:
        x = x[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy()
        if image_size is not None:
            h, w = int(image_size[0]), int(image_size[1])
            if h > x.shape[0] or w > x.shape[1]:
                raise ValueError(f"image size {(h, w)} is larger than the token grid covers "
                                 f"({x.shape[0]}x{x.shape[1]} pixels)")
            x = x[:h, :w]
        return np.rint(x * 255.0).astype(np.uint8)

    @torch.no_grad()
    def decode(self, ids: np.ndarray, image_size: Optional[Sequence[int]] = None) -> np.ndarray:
        """Draw the image of a token grid.

        Parameters
        ----------
        ids : np.ndarray, shape ``(rows, cols)``, integer
        image_size : (H, W), optional
            Original size; the padding beyond it is cropped off. Default:
            the full ``(rows*f, cols*f)``.

        Returns
        -------
        np.ndarray, shape ``(H, W, 3)``, dtype ``uint8``
        """
        ids = torch.from_numpy(self._check_ids(ids)).to(self.device)[None]
        return self._finish(self.model.decode_latent(self.model.embed(ids)), image_size)

    @torch.no_grad()
    def decode_soft(self, ids: np.ndarray, probs: Optional[Dict[int, Tuple[np.ndarray, np.ndarray]]] = None,
                    image_size: Optional[Sequence[int]] = None) -> np.ndarray:
        """Draw an image where some positions carry a distribution over codes.

        At a position with a distribution the decoder gets the expected
        codeword, ``sum_k p_k e_k``, the minimum mean-square-error latent
        under the context model's belief, instead of one hard guess.

        Parameters
        ----------
        ids : np.ndarray, shape ``(rows, cols)``
            Hard ids (used where ``probs`` has no entry).
        probs : dict or None
            ``{"positions": (m,) int64 raster positions, "ids": (m, k) int64,
            "p": (m, k) float32}``: the top-``k`` codes and their
            probabilities (renormalised here) at ``m`` positions; or
            ``{"positions": ..., "latent": (m, D) float32}``, latents to use
            as they are.
        image_size : (H, W), optional

        Returns
        -------
        np.ndarray, shape ``(H, W, 3)``, dtype ``uint8``
        """
        ids_t = torch.from_numpy(self._check_ids(ids)).to(self.device)[None]
        z = self.model.embed(ids_t)
        if probs is not None and len(probs["positions"]):
            d, rows, cols = z.shape[1:]
            pos = torch.as_tensor(np.asarray(probs["positions"]), dtype=torch.int64)
            if "latent" in probs:
                mean = torch.as_tensor(np.asarray(probs["latent"]), dtype=torch.float32)
            else:
                top = torch.as_tensor(np.asarray(probs["ids"]), dtype=torch.int64)
                p = torch.as_tensor(np.asarray(probs["p"]), dtype=torch.float32)
                p = p / p.sum(1, keepdim=True).clamp_min(1e-12)
                codebook = self.model.quantizer.codebook.detach().cpu()
                # Scatter into a dense (m, K) belief and multiply: gathering
                # (m, k, D) codewords would take k times the memory.
                dense = torch.zeros(p.shape[0], codebook.shape[0]).scatter_(1, top, p)
                mean = dense @ codebook  # (m, D)
            mean = mean.to(z.device)
            flat = z[0].reshape(d, -1).clone()
            flat[:, pos] = mean.t()
            z = flat.reshape(1, d, rows, cols)
        return self._finish(self.model.decode_latent(z), image_size)

    def decode_frame(self, frame: TokenFrame, image_size: Optional[Sequence[int]] = None) -> np.ndarray:
        """Draw a frame's image. Erased positions are drawn with whatever id
        they hold (0 after depacketizing); recover them first.

        Returns
        -------
        np.ndarray, shape ``(H, W, 3)``, dtype ``uint8``
        """
        if frame.modality != Modality.IMAGE or len(frame.shape) != 2:
            raise ValueError(f"not an image frame: modality {frame.modality.name}, "
                             f"shape {frame.shape}")
        if frame.bits_per_token != self.bits_per_token:
            raise ValueError(f"frame has {frame.bits_per_token}-bit tokens, this tokenizer "
                             f"{self.bits_per_token}-bit ones")
        return self.decode(frame.ids.reshape(frame.shape), image_size)

    @torch.no_grad()
    def reconstruct(self, image: np.ndarray) -> np.ndarray:
        """Encode then decode (the error-free token reconstruction), same size."""
        return self.decode(self.encode(image), image.shape[:2])
