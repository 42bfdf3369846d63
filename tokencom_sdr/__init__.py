"""TokenCom-SDR: token communication over a real OFDM radio link.

The data path, one subpackage per stage::

    tokens/   source -> token ids (text BPE, image VQ) and back
    link/     token frame -> packets (header, CRC) -> the receiver library:
              messages, soft reassembly, re-decoding, context recovery
    phy/      packets -> OFDM IQ bursts -> received bursts (GNU Radio)
    channel/  software channel between TX and RX (noise, CFO, SCO, multipath)
    radio/    real radios behind one backend interface, and their profiles
    context/  the context models and the recovery API
    gr/       GNU Radio blocks placed in GRC

Beside them: ``model_manifest`` (with ``models.json``), what every committed
model file is and the check its loader makes.

Above them: ``app/`` (TX, RX and loopback applications, and this API),
``experiments/``, ``training/`` and ``cli/``.

In five lines::

    import tokencom_sdr as tc
    iq = tc.text_to_iq("Meet at the north gate at noon.")
    [message] = tc.receive_iq(iq, tc.LoopbackChannel(snr_db=2.5, seed=1))
    print(message.text_raw, "->", message.text)
"""

from .lazy_exports import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "text_to_iq": ".app.api", "image_to_iq": ".app.api", "frame_to_iq": ".app.api",
    "receive_iq": ".app.api",
    "TokenReceiver": ".link.receiver", "ReceivedMessage": ".link.receiver",
    "StreamReceiver": ".link.receiver", "score_text": ".link.receiver",
    "score_image": ".link.receiver",
    "LoopbackChannel": ".channel.loopback_channel",
    "write_png": ".app.image_files",
}
__all__ = ["__version__"] + list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
