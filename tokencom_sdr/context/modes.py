"""The recovery modes a receiver offers, and its defaults (no torch needed).

Text (:mod:`.text_recovery`): ``none`` (the radio alone), ``hard`` (hard
bits of CRC-failed packets), ``fill`` (the context model, no channel
information), ``soft`` (context model x bit LLRs, after re-decoding failed
codewords with the known header and the model's prior).

Images (:mod:`.image_recovery`): ``none`` (a neutral code), ``copy`` (the
nearest received token), ``context`` (the masked-token model, after
re-decoding failed codewords with the known header).

The defaults are the best modes: what ``tokencom rx``, the GRC decoder
blocks and the Python API use unless told otherwise.
"""

__all__ = ["TEXT_RECOVERY_MODES", "IMAGE_RECOVERY_MODES", "DEFAULT_TEXT_RECOVERY",
           "DEFAULT_IMAGE_RECOVERY", "CONTEXT_DECODING", "EXPERT_OPTION_HELP"]

#: Text recovery modes, from least to most informed.
TEXT_RECOVERY_MODES = ("none", "hard", "fill", "soft")
#: Image recovery modes, from least to most informed.
IMAGE_RECOVERY_MODES = ("none", "copy", "context")

DEFAULT_TEXT_RECOVERY = "soft"
DEFAULT_IMAGE_RECOVERY = "context"

#: How text ``soft`` re-decodes CRC-failed codewords before its MAP recovery
#: (:mod:`tokencom_sdr.link.receiver.redecoding`): ``model`` (known header,
#: then header + the model's token prior), ``header`` (known header only),
#: ``model-only`` (the model's prior without header knowledge: a measurement
#: aid), ``off`` (no re-decoding).
CONTEXT_DECODING = ("model", "header", "model-only", "off")

#: Help line of the ``--expert`` option of the text commands
#: (:mod:`.domain_expert`; ``auto`` is the default).
EXPERT_OPTION_HELP = ("domain expert for messages that read as 17th-century English: auto (the "
                      "committed corpus expert with the committed model), default (with any "
                      "model), none, or an expert file")
