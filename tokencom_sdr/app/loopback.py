"""A message over the loopback: source -> tokens -> packets -> OFDM ->
software channel -> OFDM -> the receiver library -> source, with metrics.

The receive side is :class:`~tokencom_sdr.link.receiver.TokenReceiver`,
exactly as ``tokencom rx`` and the GRC decoder blocks use it: it learns the
geometry, the aggregation and the tokenizer from the packet headers. The
original is used only to score what arrived
(:mod:`~tokencom_sdr.link.receiver.scoring`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

import numpy as np

from ..channel.loopback_channel import LoopbackChannel
from ..channel.loss_models import MarkovLossModel
from ..channel.mobility import FadingSpec, FrontEndSpec
from ..context.modes import DEFAULT_IMAGE_RECOVERY, DEFAULT_TEXT_RECOVERY
from ..data.image_data import to_rgb_uint8
from ..link import Aggregation, make_aggregation, packetize
from ..link.semantic_aggregation import SEMANTIC_METHODS, SemanticAggregation
from ..link.receiver import TokenReceiver, score_image, score_text
from ..metrics.image_quality import ms_ssim, psnr
from ..metrics.jpeg_baseline import jpeg_same_bpp_scores
from ..metrics.text_baseline import text_baseline_sizes
from ..phy.modem import PhyLoopbackResult, run_phy_loopback
from ..phy.ofdm_rx import DEFAULT_SYNC_THRESHOLD
from ..tokens.frame import TokenFrame
from .image_files import save_comparison, write_png
from .token_budget import TokenBudget, bits_sent, budget_aggregation
from .unequal_protection import equal_airtime_protection

__all__ = ["LinkConfig", "run_text_loopback", "run_image_loopback", "drop_lost_packets"]


@dataclass
class LinkConfig:
    """Everything that decides how a message crosses the loopback link.

    Attributes
    ----------
    snr_db : float
        Burst SNR in dB (burst power over noise power per complex sample).
    cfo : float
        Carrier frequency offset, normalised to the sample rate.
    sco_ppm : float
        Sample-clock offset in ppm.
    taps : list of complex
        Multipath taps (normalised to unit energy by the channel).
    mcs : str
        Modulation and coding scheme (``tokencom_sdr.phy.mcs``), e.g.
        ``"qpsk-1/2"``; ``"bpsk"`` and ``"qpsk"`` are uncoded.
    aggregation : str
        ``"interleaved"`` (token i -> packet i mod P) or ``"sequential"``;
        for text also ``"sempa-gbeam"`` or ``"sempa-look"`` (semantic packet
        aggregation with MiniLM, optimised for ``loss``'s rate or 30 %).
    tokens_per_packet : int
        Tokens per packet.
    sync_threshold : float
        The receiver's Schmidl & Cox detection threshold.
    seed : int
        Noise seed.
    message_id : int
        Link-layer message id (0..65535).
    recovery : str
        Text recovery: ``none``, ``hard``, ``fill`` or ``soft`` (the
        default); see :mod:`tokencom_sdr.context.modes`.
    context_decoding : str
        With ``recovery="soft"``: how CRC-failed codewords are decoded again
        with prior knowledge before the MAP recovery: ``model`` (known link
        header, then the context model's token prior), ``header``,
        ``model-only`` or ``off``
        (:mod:`tokencom_sdr.link.receiver.redecoding`).
    fading : FadingSpec, optional
        A moving channel (3GPP delay profile, Doppler); none when omitted.
    front_end : FrontEndSpec, optional
        IQ imbalance, DC offset and phase noise at the receiver.
    loss : MarkovLossModel, optional
        Packets lost after the radio (a congested hop, a collision the PHY
        cannot see): a trace seeded with ``seed`` decides which sent packets
        the receiver never gets, whatever the PHY made of them
        (:func:`drop_lost_packets`). Their air time still counts.
    uep : (str, str), optional
        Unequal protection (text): the packets whose tokens the context
        model would restore worst go at the first MCS, the rest at the
        second, as many robust as fit in the air time of ``mcs`` for all
        (:mod:`tokencom_sdr.app.unequal_protection`).
    uep_ranking : str
        ``model`` (the context model's surprisal, the default) or ``random``
        (a control: the same MCS split with packets ranked at random).
    budget : TokenBudget, optional
        Send only a share of the tokens (:mod:`tokencom_sdr.app.token_budget`):
        the unsent positions reach the receiver as erasures, which it fills.
        Not combined with unequal protection or semantic aggregation; the
        kept tokens are interleaved whatever ``aggregation`` says.
    """

    snr_db: float = 25.0
    cfo: float = 0.0
    sco_ppm: float = 0.0
    taps: List[complex] = field(default_factory=lambda: [1.0])
    mcs: str = "qpsk-1/2"
    aggregation: str = "interleaved"
    tokens_per_packet: int = 32
    sync_threshold: float = DEFAULT_SYNC_THRESHOLD
    seed: int = 0
    message_id: int = 1
    recovery: str = DEFAULT_TEXT_RECOVERY
    context_decoding: str = "model"
    fading: Optional[FadingSpec] = None
    front_end: Optional[FrontEndSpec] = None
    loss: Optional[MarkovLossModel] = None
    uep: Optional[Tuple[str, str]] = None
    uep_ranking: str = "model"
    budget: Optional[TokenBudget] = None

    def make_channel(self) -> LoopbackChannel:
        return LoopbackChannel(self.snr_db, self.cfo, self.sco_ppm, self.taps, self.seed,
                               fading=self.fading, front_end=self.front_end)

    def to_json(self) -> dict:
        return asdict(self) | {"taps": [str(complex(t)) for t in self.taps],
                               "fading": None if self.fading is None else self.fading.to_json(),
                               "front_end": None if self.front_end is None else self.front_end.to_json(),
                               "loss": None if self.loss is None else self.loss.settings()}


def _send(frame: TokenFrame, config: LinkConfig, importance: Optional[np.ndarray] = None,
          aggregation: Optional[Aggregation] = None):
    """(packets, PHY result, protection summary or None) of one frame sent over the loopback."""
    mcs, protection = config.mcs, None
    if config.budget is not None and aggregation is None:
        raise ValueError("a token budget needs the frame's importance first (budget_aggregation)")
    if aggregation is None:
        if config.aggregation in SEMANTIC_METHODS:
            raise ValueError(f"{config.aggregation} groups text tokens by meaning; it is not "
                             f"available for images")
        aggregation = make_aggregation(config.aggregation, config.tokens_per_packet)
    if config.uep is not None:
        if importance is None:
            raise ValueError("unequal protection needs the tokens' importance")
        if config.loss is not None:
            # Lost packets are matched by the PHY header's packet counter,
            # which restarts at each MCS run of a mixed-MCS transmission.
            raise ValueError("a packet-loss model cannot be combined with unequal protection")
        plan = equal_airtime_protection(frame, config.message_id, importance, aggregation,
                                        config.mcs, *config.uep)
        packets, mcs, protection = plan.packets, plan.packet_mcs, plan.summary()
    else:
        packets = packetize(frame, config.message_id, aggregation)
    phy = run_phy_loopback(packets, mcs, config.make_channel(), config.sync_threshold)
    return packets, drop_lost_packets(phy, len(packets), config), protection


def _check_budget_config(config: LinkConfig) -> None:
    """Raise ``ValueError`` when the budget clashes with another sender setting."""
    if config.uep is not None:
        raise ValueError("a token budget cannot be combined with unequal protection")
    if config.aggregation != "interleaved":
        raise ValueError(f"a token budget interleaves the tokens it keeps; it cannot be "
                         f"combined with --aggregation {config.aggregation}")


def _budget_report(config: LinkConfig, aggregation) -> Optional[Dict[str, object]]:
    """The sender's budget: ``alpha``, ``order``, how many tokens went on the
    air and the bits their positions cost in the packet headers."""
    if config.budget is None:
        return None
    return dict(config.budget.to_json(), tokens_kept=int(aggregation.kept.size),
                tokens_in_message=int(aggregation.n_tokens),
                position_bits=aggregation.position_bits())


def drop_lost_packets(phy: PhyLoopbackResult, packets_sent: int, config: LinkConfig) -> PhyLoopbackResult:
    """``phy`` without the bursts of the packets ``config.loss`` loses.

    Bursts are matched to sent packets by the PHY header's packet counter
    (0 for the first packet of a run), which its own code protects; a burst
    without one is kept. Unchanged when ``config.loss`` is None.
    """
    if config.loss is None:
        return phy
    lost = config.loss.process(config.seed).lost(packets_sent)
    kept = [b for b in phy.received
            if b.packet_number is None or not (0 <= b.packet_number < packets_sent and lost[b.packet_number])]
    return replace(phy, received=kept)


def _link_report(message, packets, phy) -> Dict[str, object]:
    """Report keys the text and image loopbacks share. ``packets_received``
    is the radio's (before any re-decoding)."""
    received = 0 if message is None else message.packets_received
    return {
        "packets_sent": len(packets),
        "packets_received": received,
        "packet_error_rate": 1.0 - received / len(packets),
        "packets_redecoded": 0 if message is None else message.packets_redecoded,
        "pdus_rejected": len(phy.received) if message is None else message.bursts_failed,
        "token_erasure_rate": 1.0 if message is None else message.token_erasure_rate,
        "channel_uses": phy.channel_uses,
        "recovery_s": 0.0 if message is None else message.recovery_s,
        "context_decoding": None if message is None else message.redecoding,
    }


def run_text_loopback(text: str, config: Optional[LinkConfig] = None, tokenizer=None, *,
                      text_recovery=None, semantic: bool = True,
                      receiver: Optional[TokenReceiver] = None) -> Dict[str, object]:
    """Send ``text`` through the full chain and report what arrived.

    Parameters
    ----------
    text : str
    config : LinkConfig
    tokenizer : TextTokenizer, optional
        Default: the embedded one.
    text_recovery : TextRecovery, optional
        A preloaded text context model.
    semantic : bool
        Compute ``semantic_similarity`` (MiniLM; None if unavailable).
    receiver : TokenReceiver, optional
        Replaces the one built from ``config`` (its recovery settings win).

    Returns
    -------
    dict
        The JSON report of ``tokencom loopback --text``: ``modality``,
        ``snr_db``, ``tokens_sent``, ``recovery``, ``exact_raw`` and
        ``exact`` (before / after recovery), ``token_error_rate_raw`` and
        ``token_error_rate`` (erased or wrong tokens before / after),
        ``token_erasure_rate``, ``packets_sent``, ``packets_received`` (CRC-good
        from the radio), ``packet_error_rate``, ``packets_redecoded`` (failed
        packets that passed their CRC after re-decoding), ``pdus_rejected``,
        ``channel_uses``, ``bits_per_channel_use``, ``semantic_similarity``,
        ``failed_packets_used``, ``context_decoding`` (the re-decoding
        counts, or None), ``sent_text``, ``received_text_raw``,
        ``received_text``, ``recovered_by`` (``general`` or ``corpus``: which
        text model recovered it, see :mod:`tokencom_sdr.context.domain_expert`;
        None with ``none``/``hard``), ``recovery_s``, ``latency_s``
        (``encode``/``phy``/``decode``; decode includes the recovery),
        ``baseline`` (the message as UTF-8 + zlib against the BPE bits:
        ``utf8_bytes``, ``zlib_bytes``, ``bpe_bytes``, ``bpe_over_zlib``) and
        ``config``.
    """
    from ..tokens.text_bpe import TextTokenizer

    config = config or LinkConfig()
    tokenizer = tokenizer or TextTokenizer.default()
    if not text:
        raise ValueError("nothing to send: the message is empty")
    receiver = receiver or TokenReceiver(config.recovery, context_decoding=config.context_decoding,
                                         text_tokenizer=tokenizer, text_context=text_recovery)
    t0 = time.perf_counter()
    frame = tokenizer.encode_frame(text)
    # The sender ranks tokens with the same model the receiver fills with.
    importance = None
    if config.uep is not None:
        if config.uep_ranking == "random":
            importance = np.random.default_rng([config.seed, 99]).random(len(frame))
        elif config.uep_ranking == "model":
            from ..context.token_importance import text_token_surprisal  # torch: load on use
            importance = text_token_surprisal(receiver.text_context, frame.ids)
        else:
            raise ValueError(f"uep_ranking must be model or random, got {config.uep_ranking!r}")
    aggregation = None
    if config.budget is not None:
        # Ranking the tokens is the sender's encoding work: timed as encode.
        _check_budget_config(config)
        aggregation = budget_aggregation(frame, config.budget, config.tokens_per_packet,
                                         text_context=receiver.text_context)
    elif config.aggregation in SEMANTIC_METHODS:
        # The grouping search is the sender's encoding work: timed as encode.
        from ..metrics.subset_similarity import text_similarity_for  # torch: load on use
        aggregation = SemanticAggregation(
            config.aggregation, config.tokens_per_packet, text_similarity_for(tokenizer),
            loss=0.3 if config.loss is None else config.loss.loss_rate(),
            seed=config.seed).for_frame(frame)
    t1 = time.perf_counter()
    packets, phy, protection = _send(frame, config, importance, aggregation)
    t2 = time.perf_counter()
    message = receiver.receive(phy.received, config.message_id)
    t3 = time.perf_counter()
    scores = score_text(message, text, tokenizer, semantic=semantic)
    report = {"modality": "text", "snr_db": config.snr_db, "tokens_sent": len(frame),
              "recovery": receiver.text_recovery}
    # The conventional sender's size for the same message: UTF-8 through zlib.
    report["baseline"] = text_baseline_sizes(text, len(frame), frame.bits_per_token)
    report.update(_link_report(message, packets, phy))
    report.update(scores)
    report["budget"] = _budget_report(config, aggregation)
    report.update({
        "bits_per_channel_use": 8 * len(text.encode("utf-8")) / phy.channel_uses,
        "failed_packets_used": 0 if message is None else message.failed_packets_used,
        "received_text_raw": "" if message is None else message.text_raw,
        "received_text": "" if message is None else message.text,
        "recovered_by": None if message is None else message.recovered_by,
        "latency_s": {"encode": t1 - t0, "phy": t2 - t1, "decode": t3 - t2},
        # The sender's choice, like the rest of config: a receiver sees only the bursts.
        "config": dict(config.to_json(), unequal_protection=protection),
    })
    return report


def _caption_model(recovery: str, context_model):
    """The context model that reads the caption: the one given, or the
    embedded caption model."""
    from ..context.image_maskgit import ImageContextModel

    if recovery != "context":
        raise ValueError(f"a caption conditions context recovery only, not {recovery!r}")
    if context_model is None:
        context_model = ImageContextModel.default_caption()
    if not context_model.takes_caption:
        raise ValueError("this image context model was trained without captions; train one "
                         "with `tokencom train caption-context`")
    return context_model


def _send_caption(caption: str, config: LinkConfig) -> Dict[str, object]:
    """Send a caption as its own text message over the link ``config`` describes."""
    if not caption.strip():
        raise ValueError("the caption is empty")
    text_config = replace(config, message_id=(config.message_id + 1) % 65536, budget=None,
                          uep=None, aggregation="interleaved")
    sent = run_text_loopback(caption, text_config, semantic=False)
    return {"sent": caption, "received": sent["received_text"], "exact": sent["exact"],
            "channel_uses": sent["channel_uses"], "packets_sent": sent["packets_sent"],
            "packets_received": sent["packets_received"]}


def run_image_loopback(image: np.ndarray, config: Optional[LinkConfig] = None,
                       tokenizer: Union[str, object] = "standard",
                       recovery: str = DEFAULT_IMAGE_RECOVERY,
                       out_dir: Union[str, Path, None] = None, context_model=None,
                       steps: int = 2, soft: bool = True,
                       caption: Optional[str] = None) -> Dict[str, object]:
    """Send ``image`` through the full chain and report what arrived.

    Parameters
    ----------
    image : np.ndarray, shape ``(H, W, 3)``, dtype ``uint8``
    config : LinkConfig
        Channel, modulation, aggregation and tokens per packet.
    tokenizer : ``standard``, ``low-rate`` or an ImageTokenizer
        The sender's; a custom one is given to the receiver too (its wire id
        says only "custom").
    recovery : ``none``, ``copy`` or ``context``
    out_dir : path, optional
        Where to write ``received.png`` (the receiver's output),
        ``no_recovery.png``, ``tokens_only.png`` (error-free tokens) and
        ``comparison.png`` (original | no recovery | recovered | error-free
        tokens).
    context_model : ImageContextModel, optional
        The receiver's context model (default: the embedded one).
    steps : int
        MaskGIT rounds for ``context``.
    soft : bool
        ``context`` draws the expected codeword of its beliefs.
    caption : str, optional
        Cross-modal context: the caption is sent first, as a text message
        over the same link (message id ``message_id + 1``, its own air time),
        and the text the receiver gets conditions ``context`` recovery. The
        context model must take captions (default then: the embedded
        caption model, which knows handwritten digits only).

    Returns
    -------
    dict
        The JSON report of ``tokencom loopback --image``: ``modality``,
        ``tokenizer``, ``recovery``, ``image_size``, ``grid``, ``snr_db``,
        ``tokens_sent``, ``bits_per_token``, ``bits_per_pixel`` (every
        token), ``bits_sent_per_pixel`` (with a budget: the kept tokens and
        their positions), ``packets_sent``, ``packets_received``, ``packet_error_rate``,
        ``packets_redecoded``, ``token_error_rate_raw``, ``token_error_rate``
        (before / after recovery), ``token_erasure_rate``, ``channel_uses``,
        ``psnr_db``, ``ms_ssim`` (recovered image), ``psnr_no_recovery_db``,
        ``ms_ssim_no_recovery``, ``psnr_tokens_only_db``,
        ``ms_ssim_tokens_only``, the JPEG baseline at the bits sent
        (``psnr_jpeg_same_bpp_db``, ``ms_ssim_jpeg_same_bpp``,
        ``jpeg_quality``, ``jpeg_bytes``, ``jpeg_bits_per_pixel``; see
        :func:`~tokencom_sdr.metrics.jpeg_baseline.jpeg_same_bpp_scores`),
        ``latency_s`` and ``config``; ``files`` when ``out_dir`` is given;
        with ``caption``, ``caption`` (``sent``, ``received``, ``exact``,
        ``channel_uses``, ``packets_sent``, ``packets_received``) and
        ``channel_uses_with_caption``.
    """
    from ..tokens.image_vq import ImageTokenizer

    config = config or LinkConfig()
    tok = tokenizer if isinstance(tokenizer, ImageTokenizer) else ImageTokenizer.default(tokenizer)
    image = to_rgb_uint8(image)
    size = image.shape[:2]
    t0 = time.perf_counter()
    if config.uep is not None:
        raise ValueError("unequal protection ranks tokens by the text context model; it is "
                         "not available for images")
    frame = tok.encode_frame(image)
    aggregation = None
    if config.budget is not None:
        _check_budget_config(config)
        if context_model is None and config.budget.order == "importance":
            from ..context.image_recovery import default_context_model
            context_model = default_context_model(tok.name)
        aggregation = budget_aggregation(frame, config.budget, config.tokens_per_packet,
                                         image_context=context_model)
    caption_report = None
    if caption is not None:
        context_model = _caption_model(recovery, context_model)
        caption_report = _send_caption(caption, config)
    t1 = time.perf_counter()
    packets, phy, _ = _send(frame, config, aggregation=aggregation)
    t2 = time.perf_counter()
    receiver = TokenReceiver(image_recovery=recovery, image_tokenizers={frame.tokenizer: tok},
                             image_context=context_model, image_steps=steps, soft_images=soft,
                             image_caption=None if caption_report is None
                             else caption_report["received"] or None)
    message = receiver.receive(phy.received, config.message_id)
    t3 = time.perf_counter()
    clean = tok.decode_frame(frame, size)
    sent_bits = bits_sent(frame, aggregation)
    scores = score_image(message, image, tok)
    if message is None or message.image is None:
        # Nothing arrived: what a receiver shows is the neutral image.
        blank = np.full_like(image, 128)
        output = unrecovered = blank
        scores.update(psnr_db=psnr(image, blank), ms_ssim=ms_ssim(image, blank),
                      psnr_no_recovery_db=psnr(image, blank), ms_ssim_no_recovery=ms_ssim(image, blank))
    else:
        output = message.image[:size[0], :size[1]]
        unrecovered = message.image_raw[:size[0], :size[1]]
    report = {
        "modality": "image", "tokenizer": tok.name, "recovery": recovery,
        "image_size": [int(size[0]), int(size[1])], "grid": list(frame.shape),
        "snr_db": config.snr_db, "tokens_sent": len(frame),
        "bits_per_token": frame.bits_per_token, "bits_per_pixel": tok.bits_per_pixel(size),
    }
    report.update(_link_report(message, packets, phy))
    report.update(scores)
    report["budget"] = _budget_report(config, aggregation)
    report.update({
        "psnr_tokens_only_db": psnr(image, clean), "ms_ssim_tokens_only": ms_ssim(image, clean),
        "bits_sent_per_pixel": sent_bits / float(size[0] * size[1]),
        # JPEG of the original at no more bits than the tokens took (with a
        # budget: the kept tokens and their positions).
        **jpeg_same_bpp_scores(image, sent_bits),
        "latency_s": {"encode": t1 - t0, "phy": t2 - t1, "decode": t3 - t2},
        "config": config.to_json(),
    })
    if caption_report is not None:
        report["caption"] = caption_report
        report["channel_uses_with_caption"] = report["channel_uses"] + caption_report["channel_uses"]
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        files = {"received": out_dir / "received.png", "no_recovery": out_dir / "no_recovery.png",
                 "tokens_only": out_dir / "tokens_only.png",
                 "comparison": out_dir / "comparison.png"}
        write_png(files["received"], output)
        write_png(files["no_recovery"], unrecovered)
        write_png(files["tokens_only"], clean)
        save_comparison(files["comparison"], {
            "original": image,
            f"no recovery ({report['psnr_no_recovery_db']:.1f} dB)": unrecovered,
            f"{recovery} ({report['psnr_db']:.1f} dB)": output,
            f"error-free tokens ({report['psnr_tokens_only_db']:.1f} dB)": clean,
        }, title=f"{tok.name} tokens, {report['bits_per_pixel']:.3f} bpp, SNR "
                 f"{config.snr_db:g} dB, {report['packets_received']}/{report['packets_sent']} "
                 f"packets, token erasures {report['token_erasure_rate']:.1%}")
        report["files"] = {k: str(v) for k, v in files.items()}
    return report
