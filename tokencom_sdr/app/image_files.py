"""Received images as files: PNGs, and side-by-side comparison figures."""

from pathlib import Path
from typing import Dict, Union

import numpy as np

__all__ = ["save_comparison", "write_png"]


def save_comparison(path: Union[str, Path], panels: Dict[str, np.ndarray], title: str = "") -> Path:
    """Write a side-by-side figure of equally sized images with captions."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(panels)
    h, w = next(iter(panels.values())).shape[:2]
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.2 * h / w + 0.6), squeeze=False)
    for ax, (caption, image) in zip(axes[0], panels.items()):
        ax.imshow(image)
        ax.set_title(caption, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_png(path: Path, image: np.ndarray) -> None:
    from PIL import Image
    Image.fromarray(image).save(path)
