"""Quality metrics of what crossed the link: tokens (error rate, in
:mod:`.token_errors`), images (PSNR, MS-SSIM, in :mod:`.image_quality`) and
text (MiniLM sentence similarity, in :mod:`.semantic`); the conventional
baselines beside them: JPEG at the tokens' bit budget (:mod:`.jpeg_baseline`)
and UTF-8 + zlib for text (:mod:`.text_baseline`). What the process itself
holds (memory, shared-memory mappings, descriptors, threads) for soak runs
and leak checks: :mod:`.process_resources`."""

from ..lazy_exports import lazy_exports

_EXPORTS = {
    "token_error_rate": ".token_errors", "psnr": ".image_quality", "ssim": ".image_quality",
    "ms_ssim": ".image_quality", "semantic_similarity": ".semantic",
    "semantic_similarity_or_none": ".semantic",
    "jpeg_at_bit_budget": ".jpeg_baseline", "jpeg_same_bpp_scores": ".jpeg_baseline",
    "zlib_bytes": ".text_baseline", "text_baseline_sizes": ".text_baseline",
    "process_resources": ".process_resources",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
