"""Fewer bits than tokens: text messages sent with less than 12 bits a token.

Sits between :mod:`tokencom_sdr.tokens` and :mod:`tokencom_sdr.link`: it takes
a message's token ids and gives the bytes a sender puts on the link, and back.
Both methods run the receiver's own text context model
(:mod:`tokencom_sdr.context`) at the transmitter, deterministically
(:mod:`.context_prior`), so that both ends compute the same predictions.

* :mod:`.skipping`: predictable-token skipping. Tokens the model predicts
  exactly, with confidence at least ``tau``, are left out; the receiver fills
  them; a per-message hash (:mod:`.message_hash`) checks the result and a
  fallback retransmission of the skipped positions repairs a failed fill.
* :mod:`.entropy_coding`: range coding of every token with the model's
  left-to-right prior (``constriction``'s range coder, :mod:`.range_coding`).
  Decodable only when every byte arrives.
* :mod:`.bit_fields`: the fixed-width header fields both formats share.
"""

from ..lazy_exports import lazy_exports

_EXPORTS = {
    "message_hash": ".message_hash", "DEFAULT_HASH_BITS": ".message_hash",
    "ContextPrior": ".context_prior",
    "CompressedMessageError": ".bit_fields",
    "SkipMessage": ".skipping", "SkipDecodeResult": ".skipping", "encode_skipping": ".skipping",
    "decode_skipping": ".skipping", "choose_skips": ".skipping",
    "EntropyCodedMessage": ".entropy_coding", "encode_entropy": ".entropy_coding",
    "decode_entropy": ".entropy_coding", "split_into_packets": ".entropy_coding",
    "join_packets": ".entropy_coding", "IncompleteMessageError": ".entropy_coding",
    "MessageHashError": ".message_hash",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
