"""Every trainer of the embedded default models (``tokencom train MODEL``).

* :mod:`.text_tokenizer`: the byte-level BPE; :mod:`.text_context`: the
  masked-token text model; :mod:`.text_context_average`: the mean of its
  continued runs; :mod:`.text_memory`: the corpus memory.
* :mod:`.image_tokenizer`: the VQ-VAE; :mod:`.image_context`: the MaskGIT
  image context model.
* :mod:`.model_manifest_writer`: recomputes the model manifest's hashes,
  sizes, shapes and configs (``tokencom models --refresh``).

Nothing below this package imports it.
"""

from ..lazy_exports import lazy_exports

_EXPORTS = {
    "train_text_tokenizer": ".text_tokenizer", "train_text_context": ".text_context",
    "average_text_context_models": ".text_context_average",
    "train_image_tokenizer": ".image_tokenizer", "train_image_context": ".image_context",
    "refresh_manifest": ".model_manifest_writer",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
