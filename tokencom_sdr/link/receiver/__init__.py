"""The receiver: received bursts -> messages, before and after context recovery.

* :mod:`.receiver`: :class:`TokenReceiver`, one message's bursts ->
  :class:`ReceivedMessage` (reassembly, soft reassembly, re-decoding,
  recovery, detokenizing), from the packets alone.
* :mod:`.assembler`: :class:`MessageAssembler`, a burst stream -> the bursts
  of each message (complete, timeout, superseded, stopped).
* :mod:`.stream`: :class:`StreamReceiver`, the two together for live use.
* :mod:`.soft_reassembly`, :mod:`.redecoding`: the soft steps.
* :mod:`.scoring`: a message against its original, when that is known.
"""

from .assembler import (COMPLETE, FAILED_ONLY, STOPPED, SUPERSEDED, TIMEOUT, AssembledMessage,
                        MessageAssembler)
from .message import ReceivedMessage
from .receiver import TokenReceiver
from .redecoding import CONTEXT_DECODING, ContextDecoding, context_decode
from .scoring import receiver_estimates, score_image, score_text
from .soft_reassembly import SoftReassembly, as_bursts, soft_depacketize
from .stream import StreamReceiver

__all__ = ["TokenReceiver", "ReceivedMessage", "StreamReceiver", "MessageAssembler",
           "AssembledMessage", "COMPLETE", "TIMEOUT", "SUPERSEDED", "STOPPED", "FAILED_ONLY",
           "SoftReassembly", "soft_depacketize", "as_bursts", "CONTEXT_DECODING",
           "ContextDecoding", "context_decode", "score_text", "score_image",
           "receiver_estimates"]
