"""Choosing image token ids by the decoded picture's error, at the transmitter.

Two ways, both sending ordinary ids at the same bits to an unchanged
receiver: :func:`search_ids` tries candidates by decoding (seconds per
image), :func:`refine_ids` predicts their effect from one gradient (a
quarter of a second for 256 x 256 pixels) and gets most of the search's gain.

The VQ encoder gives each grid position the codeword nearest to its latent
vector. The receiver sees pixels, not latents, and the nearest codeword is
not always the one whose decoded pixels are closest to the image: the
decoder mixes neighbouring codewords. This search keeps the encoder's few
nearest codewords per position as candidates and picks among them by the
error of the decoded image, as a JPEG or H.264 encoder picks its quantised
values by rate and distortion. The rate is unchanged (still one id of
``log2(K)`` bits a position), the ids are ordinary ids, and the receiver and
the wire format do not change.

The grid is visited in ``spacing x spacing`` phases: in one phase every
``spacing``-th position in each direction tries each of its candidates at
once (one batched decode per phase for all candidates), and each keeps the
candidate with the smallest squared error over the pixels of its 3 x 3
neighbourhood of positions. Positions that change together are ``spacing``
apart, so with ``spacing >= 3`` their neighbourhoods do not overlap. The
result is never worse than the nearest codewords: the search returns
whichever of the two decodes closer to the image.

Measured on the 6 plasma photographs (384 px, standard tokenizer, no model
saw them): 27.08 dB with the nearest codewords, 27.72 dB with 4 candidates,
spacing 3 and one sweep (36 decodes of the image), 27.81 dB with two
sweeps; JPEG at the same bits gives 27.50 dB.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["search_ids", "refine_ids", "REFINE_CURVATURE"]


@torch.no_grad()
def nearest_codewords(model, x: torch.Tensor, candidates: int) -> torch.Tensor:
    """The ``candidates`` codewords nearest to each position's latent.

    Returns
    -------
    torch.Tensor, shape ``(H/f, W/f, min(candidates, K))``, dtype ``int64``
        Nearest first: ``[..., 0]`` is what the plain encoder sends.
    """
    z = model.encode_latent(x)[0]
    d, h, w = z.shape
    codebook = model.quantizer.codebook
    distance = (codebook * codebook).sum(1)[None] - 2.0 * z.permute(1, 2, 0).reshape(-1, d) @ codebook.t()
    k = min(candidates, codebook.shape[0])
    return distance.topk(k, largest=False).indices.reshape(h, w, k)


@torch.no_grad()
def search_ids(model, x: torch.Tensor, candidates: int = 4, spacing: int = 3,
               sweeps: int = 1) -> torch.Tensor:
    """Token ids of one image chosen by the decoded image's squared error.

    Parameters
    ----------
    model : VQVAE
        The tokenizer's model (encoder, quantizer, decoder), in eval mode.
    x : torch.Tensor, shape ``(1, 3, H, W)``, dtype ``float32``
        The image in ``[0, 1]``, ``H`` and ``W`` multiples of the model's ``f``.
    candidates : int
        Nearest codewords per position to choose among (1: the nearest only).
    spacing : int
        Distance between positions that change in the same phase.
    sweeps : int
        Passes over all phases.

    Returns
    -------
    torch.Tensor, shape ``(H/f, W/f)``, dtype ``int64``
    """
    if candidates < 1 or spacing < 1 or sweeps < 0:
        raise ValueError(f"need candidates >= 1, spacing >= 1, sweeps >= 0; got "
                         f"{candidates}, {spacing}, {sweeps}")
    f = model.cfg.downsample
    options = nearest_codewords(model, x, candidates)
    h, w, k = options.shape
    nearest = options[..., 0].clone()
    if k == 1 or sweeps == 0:
        return nearest

    def cell_errors(grids: torch.Tensor) -> torch.Tensor:
        """``(B, h, w)`` ids -> ``(B, h, w)`` squared error over each position's pixels."""
        decoded = model.decode_latent(model.embed(grids))
        error = ((decoded - x) ** 2).sum(1, keepdim=True)
        return F.avg_pool2d(error, f)[:, 0] * (f * f)

    neighbourhood = torch.ones(1, 1, 3, 3, dtype=x.dtype, device=x.device)
    ids = nearest.clone()
    for _ in range(sweeps):
        for row in range(spacing):
            for col in range(spacing):
                phase = torch.zeros(h, w, dtype=torch.bool, device=ids.device)
                phase[row::spacing, col::spacing] = True
                trials = ids[None].repeat(k, 1, 1)
                for choice in range(k):
                    trials[choice][phase] = options[..., choice][phase]
                local = F.conv2d(cell_errors(trials)[:, None], neighbourhood, padding=1)[:, 0]
                best = local.argmin(0)
                ids[phase] = options[phase].gather(1, best[phase][:, None])[:, 0]
    both = torch.stack([nearest, ids])
    return both[int(cell_errors(both).sum((1, 2)).argmin())]


# ---------------------------------------------------------------------------
# One gradient step: the search's choice without its decodes
# ---------------------------------------------------------------------------

#: Curvature ``c`` of the squared pixel error against a change ``delta`` of
#: one position's codeword (``dE ~ g . delta + c |delta|^2``, ``g`` the error's
#: gradient at the codeword), per embedded tokenizer. Chosen on the *train*
#: photographs, never the held-out ones, by
#: ``.venv/bin/python bench/id_refine_calibration.py --json
#: docs/results/id_refine_calibration.json``.
REFINE_CURVATURE = {"standard": 0.35, "low-rate": 2.0}

#: Latent rows decoded on each side of a band of rows (:func:`refine_ids`).
#: The decoders' receptive field reaches 7 latent positions, and a gradient
#: at a position needs the pixels within that reach and the codewords within
#: twice it, so 16 makes the banded gradient the whole image's.
BAND_HALO = 16


def refine_ids(model, x: torch.Tensor, curvature: float, candidates: int = 4,
               rounds: int = 1, band_rows: int = 96) -> torch.Tensor:
    """Token ids of one image, each nearest codeword replaced by one of the
    next nearest where a gradient step predicts a smaller picture error.

    The squared error ``E`` of the decoded picture is differentiated with
    respect to the codewords of the current ids (at first the nearest). A
    change ``delta`` of one position's codeword is predicted to change ``E``
    by ``g . delta + curvature * |delta|^2``: the first term from the
    gradient, the second an isotropic stand-in for the decoder's Hessian.
    Each position's best candidate is the one with the most negative
    prediction, if any. The prediction holds for one change alone; two
    neighbours changing together interact through the decoder, and letting
    every position change at once lost up to 1.5 dB on some train
    photographs. So a position changes only where its predicted gain is the
    largest among its four neighbours' (a non-maximum suppression), which
    keeps changes apart. Each further round starts from the ids the last
    one chose. Measured on the held-out plasma photographs (384 px): 27.08
    dB with the nearest codewords, 27.50 / 27.62 / 27.68 / 27.70 dB after
    1 / 2 / 3 / 4 rounds (:func:`search_ids`: 27.72 dB for 36 decodes).

    Parameters
    ----------
    model : VQVAE
        The tokenizer's model, in eval mode.
    x : torch.Tensor, shape ``(1, 3, H, W)``, dtype ``float32``
        The image in ``[0, 1]``, ``H`` and ``W`` multiples of the model's ``f``.
    curvature : float
        ``c`` above (:data:`REFINE_CURVATURE` holds the calibrated values).
        Smaller changes more positions; with the suppression, the gain on
        the train photographs varied by a tenth of a decibel between 0.1
        and 0.5.
    candidates : int
        Nearest codewords per position to choose among (1: the nearest only).
    rounds : int
        Gradient steps, each one decode and its backward pass (0: the
        nearest codewords).
    band_rows : int
        Latent rows per backward pass (:data:`BAND_HALO` more on each side),
        which bounds the memory a large picture needs.

    Returns
    -------
    torch.Tensor, shape ``(H/f, W/f)``, dtype ``int64``
    """
    if candidates < 1 or rounds < 0 or band_rows < 1 or not curvature > 0:
        raise ValueError(f"need candidates >= 1, rounds >= 0, band_rows >= 1, curvature > 0; "
                         f"got {candidates}, {rounds}, {band_rows}, {curvature}")
    codebook = model.quantizer.codebook.detach()
    options = nearest_codewords(model, x, candidates)
    ids = options[..., 0].clone()
    if options.shape[-1] == 1:
        return ids
    for _ in range(rounds):
        gradient = _error_gradient(model, x, ids, band_rows)
        with torch.no_grad():
            delta = codebook[options] - codebook[ids][:, :, None]
            predicted = (gradient[:, :, None] * delta).sum(-1) + curvature * (delta * delta).sum(-1)
            gain, best = predicted.min(-1)
            # gain <= 0 (keeping the current id predicts 0); outside the grid counts as 0.
            padded = F.pad(gain[None, None], (1, 1, 1, 1))[0, 0]
            neighbours = torch.stack([padded[:-2, 1:-1], padded[2:, 1:-1],
                                      padded[1:-1, :-2], padded[1:-1, 2:]]).min(0).values
            change = (gain < 0) & (gain <= neighbours)
            ids = torch.where(change, options.gather(-1, best[..., None])[..., 0], ids)
    return ids


def _error_gradient(model, x: torch.Tensor, ids: torch.Tensor, band_rows: int) -> torch.Tensor:
    """``(h, w, D)`` gradient of the decoded picture's squared error with
    respect to the codewords of ``ids`` ``(h, w)``, band by band of latent rows."""
    f = model.cfg.downsample
    h, w = ids.shape
    gradient = torch.empty(h, w, model.cfg.latent_dim, dtype=x.dtype, device=x.device)
    for top in range(0, h, band_rows):
        first, last = max(0, top - BAND_HALO), min(h, top + band_rows + BAND_HALO)
        with torch.enable_grad():
            codes = model.embed(ids[None, first:last]).detach().requires_grad_(True)
            decoded = model.decode_latent(codes)
            error = ((decoded - x[..., first * f:last * f, :]) ** 2).sum()
            (band_gradient,) = torch.autograd.grad(error, codes)
        core = slice(top - first, top - first + min(band_rows, h - top))
        gradient[top:top + band_rows] = band_gradient[0].permute(1, 2, 0)[core]
    return gradient
