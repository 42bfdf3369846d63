"""Quality metrics of what crossed the link: tokens (error rate, in
:mod:`.token_errors`), images (PSNR, MS-SSIM, in :mod:`.image_quality`) and
text (MiniLM sentence similarity, in :mod:`.semantic`)."""

from ..lazy_exports import lazy_exports

_EXPORTS = {
    "token_error_rate": ".token_errors", "psnr": ".image_quality", "ssim": ".image_quality",
    "ms_ssim": ".image_quality", "semantic_similarity": ".semantic",
    "semantic_similarity_or_none": ".semantic",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
