"""A screenshot of an HTML report, taken by a headless browser: proof that
the page a user opens shows its figures (a broken ``<img>`` still leaves a
valid HTML file behind).

The browser is Debian's ``chromium-headless-shell`` (``make test`` installs
it; by hand: ``apt-get install --no-install-recommends chromium-headless-shell``),
or any Chromium that takes ``--headless``. It runs with no network access
to speak of: the report embeds its figures as data URLs.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np

__all__ = ["find_browser", "screenshot", "coloured_pixels", "BROWSERS"]

#: Executables tried in order.
BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")


def find_browser() -> Optional[str]:
    """Path of the first headless-capable browser on PATH, or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(html: Path, png: Path, width: int = 1280, max_height: int = 12000,
               timeout_s: float = 60.0) -> Path:
    """Render ``html`` headless and save it as ``png``, cropped below the
    page's last non-white row.

    Parameters
    ----------
    html : path
        The page (a local file).
    png : path
        Where the screenshot goes.
    width : int
        Browser window width in CSS pixels.
    max_height : int
        Window height: a page longer than this is cut there.
    timeout_s : float
        The browser is killed after this long.

    Raises
    ------
    RuntimeError
        No browser is installed, or it failed or wrote no image.
    """
    from PIL import Image

    browser = find_browser()
    if browser is None:
        raise RuntimeError("no headless browser found (tried " + ", ".join(BROWSERS) + "); install one "
                           "with: apt-get install --no-install-recommends chromium-headless-shell")
    html, png = Path(html).resolve(), Path(png)
    with tempfile.TemporaryDirectory(prefix="tokencom-shot-") as scratch:
        raw = Path(scratch) / "page.png"
        # --no-sandbox: CI and containers run as root, where Chromium's
        # sandbox refuses to start. The profile folder keeps the run from
        # touching the user's.
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                   f"--user-data-dir={scratch}/profile", f"--window-size={width},{max_height}",
                   f"--screenshot={raw}", html.as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as error:
            raise RuntimeError(f"{browser} took more than {timeout_s:.0f} s on {html}") from error
        if not raw.is_file():
            tail = (done.stderr or "").strip().splitlines()[-1:]
            raise RuntimeError(f"{browser} wrote no screenshot of {html} (exit {done.returncode}"
                               f"{': ' + tail[0] if tail else ''})")
        image = Image.open(raw).convert("RGB")
        pixels = np.asarray(image)
        # The window is as tall as max_height; keep the page, not the white
        # below it.
        inked = np.flatnonzero((pixels < 250).any(axis=(1, 2)))
        bottom = int(inked[-1]) + 20 if inked.size else pixels.shape[0]
        png.parent.mkdir(parents=True, exist_ok=True)
        image.crop((0, 0, image.width, min(bottom, image.height))).save(png)
    return png


def coloured_pixels(png: Path, saturation: float = 0.2) -> int:
    """Pixels of a screenshot whose colour is clearly not grey.

    Text, tables and page background are black, grey or white; matplotlib's
    curves are coloured (tab20's light shades too: saturation 0.25 and up).
    A page whose figures failed to show has next to none (about 160, from
    the broken-image icons, against 5,000 for the smallest report the tests
    make).

    Parameters
    ----------
    png : path
    saturation : float
        HSV saturation above which a pixel counts, in [0, 1].
    """
    from PIL import Image

    rgb = np.asarray(Image.open(png).convert("RGB"), dtype=np.float64)
    high, low = rgb.max(axis=2), rgb.min(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        sat = np.where(high > 0, (high - low) / high, 0.0)
    return int(np.count_nonzero(sat > saturation))
