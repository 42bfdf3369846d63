"""Evaluations: what the benches and the evaluation commands measure.

* :mod:`.per_sweep` (with the stock GNU Radio reference, :mod:`.stock_ofdm`):
  PER vs SNR per MCS through the real chain.
* :mod:`.text_eval`: text recovery modes vs SNR over held-out messages.
* :mod:`.text_erasure_eval`, :mod:`.image_erasure_eval`: recovery under
  packet erasures, without the PHY; :mod:`.text_sources_eval`: the text
  erasure measurement per source (17th-century and modern English).
* :mod:`.bits_eval`: bits per token of held-out text with fixed ids,
  predictable-token skipping, entropy coding and zlib.
* :mod:`.sweep_config`, :mod:`.sweep_point`, :mod:`.sweep_runner`,
  :mod:`.sweep_results`: ``tokencom sweep``, a YAML grid of points through
  the real chain, serial or on Dask, into Parquet and CSV.
"""

from ..lazy_exports import lazy_exports

_EXPORTS = {
    "per_sweep": ".per_sweep", "run_stock_loopback": ".stock_ofdm",
    "TextEvalConfig": ".text_eval", "run_text_eval": ".text_eval",
    "run_erasure_eval": ".text_erasure_eval", "evaluate_erasures": ".image_erasure_eval",
    "run_text_sources_eval": ".text_sources_eval", "run_bits_eval": ".bits_eval",
    "load_sweep_config": ".sweep_config", "run_sweep": ".sweep_runner", "read_results": ".sweep_results",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
