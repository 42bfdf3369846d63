"""Context models and the recovery API: restoring lost or corrupted tokens.

* :mod:`.modes`: the recovery modes and their defaults (no torch).
* :class:`TextRecovery` (:mod:`.text_recovery`): erasure fill and soft MAP
  detection with the masked-token text model (:mod:`.text_model`) and the
  corpus memory (:mod:`.text_memory`), and for messages that read as
  17th-century English a corpus expert (:mod:`.domain_expert`).
* :class:`ImageRecovery` (:mod:`.image_recovery`): none, copy or MaskGIT
  context fill with the image context model (:mod:`.image_maskgit`).

No training code lives here (see :mod:`tokencom_sdr.training`).
"""

from ..lazy_exports import lazy_exports

_EXPORTS = {
    "TEXT_RECOVERY_MODES": ".modes", "IMAGE_RECOVERY_MODES": ".modes",
    "DEFAULT_TEXT_RECOVERY": ".modes", "DEFAULT_IMAGE_RECOVERY": ".modes",
    "CONTEXT_DECODING": ".modes",
    "TextRecovery": ".text_recovery", "RecoveryResult": ".text_recovery",
    "TextContextModel": ".text_model", "load_text_context_model": ".text_model",
    "CorpusMemory": ".text_memory", "DomainExpert": ".domain_expert",
    "ImageRecovery": ".image_recovery", "ImageContextModel": ".image_maskgit",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
