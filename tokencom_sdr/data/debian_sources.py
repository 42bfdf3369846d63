"""Which Debian packages the training data comes from, and what is taken from each.

Two data sets (see :mod:`tokencom_sdr.data.datasets`):

* ``modern-english``: prose from Debian's documentation packages. One
  source, ``debian-reference-en``, is held out **completely** (no block of it
  is ever trained on), so figures on it measure text from an unseen author
  and toolchain. The others have a held-out share of their own.
* ``photos``: real photographs from wallpaper packages. The six photographs
  of ``plasma-workspace-wallpapers`` are held out completely.

Left out on purpose (looked at, 2026-12, Debian 12):

* ``fortunes-min``: a subset of ``fortunes``, so its texts would sit on both
  sides of the split;
* ``ukui-wallpapers``: every picture is digital art, none a photograph;
* ``gnome-backgrounds`` 43: abstract art;
* in ``lomiri-wallpapers-16.04``, ``analogpattern`` (a texture),
  ``greentock`` and ``umang`` (renders); in ``lomiri-wallpapers-20.04``,
  everything but ``Kleiber`` (art); the rest of ``plasma-workspace-wallpapers``
  and of ``mate-backgrounds`` (digital art, desktop patterns).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

__all__ = ["DebianSource", "TEXT_SOURCES", "PHOTO_SOURCES", "ROLE_SPLIT", "ROLE_HELDOUT"]

#: A source with its own train / held-out split.
ROLE_SPLIT = "train+heldout"
#: A source held out completely: never trained on.
ROLE_HELDOUT = "heldout-source"


@dataclass(frozen=True)
class DebianSource:
    """One Debian binary package and the files taken from it.

    Attributes
    ----------
    name : str
        Name of the source in the data set (a folder name).
    package : str
        Debian binary package, fetched with ``apt-get download``.
    kind : str
        How its files become data: ``"html"`` (prose of each page),
        ``"fortune"`` (texts between ``%`` lines) or ``"photo"`` (copied).
    include : tuple of str
        Glob patterns, relative to the unpacked package root, of the files
        taken. Symbolic links are never followed.
    exclude : tuple of str
        Glob patterns of files dropped again (indexes, search pages).
    role : str
        :data:`ROLE_SPLIT` or :data:`ROLE_HELDOUT`.
    licence_note : str
        What a free-form copyright file says, as read by a person (empty
        when the file is machine-readable and names its licences).
    """

    name: str
    package: str
    kind: str
    include: Tuple[str, ...]
    exclude: Tuple[str, ...] = ()
    role: str = ROLE_SPLIT
    licence_note: str = ""


TEXT_SOURCES = (
    DebianSource("debian-handbook", "debian-handbook", "html",
                 ("usr/share/doc/debian-handbook/html/en-US/*.html",)),
    DebianSource("python-docs", "python3.11-doc", "html",
                 ("usr/share/doc/python3.11/html/**/*.html",),
                 exclude=("usr/share/doc/python3.11/html/genindex*.html",
                          "usr/share/doc/python3.11/html/search.html",
                          "usr/share/doc/python3.11/html/py-modindex.html",
                          "usr/share/doc/python3.11/html/_*/**"),
                 licence_note="Python Software Foundation License (PSF-2.0), with the "
                              "licences of incorporated software"),
    DebianSource("fortunes", "fortunes", "fortune",
                 ("usr/share/games/fortunes/*",),
                 exclude=("usr/share/games/fortunes/*.dat", "usr/share/games/fortunes/*.u8",
                          "usr/share/games/fortunes/ascii-art", "usr/share/games/fortunes/art"),
                 licence_note="BSD (fortune-mod, University of California); cookie files "
                              "collected from public postings, see the copyright file"),
    DebianSource("debian-reference", "debian-reference-en", "html",
                 ("usr/share/debian-reference/*.en.html",), role=ROLE_HELDOUT),
)

_LOMIRI_16_PHOTOS = ("Bridge_by_Sander_Klootwijk", "Dragonfly_by_Bolly", "Picture_0B_by_freespace",
                     "Picture_1A_by_freespace", "Wine_by_Jakkub_Mede",
                     "aitzgorri_by_Aitzol_Berasategi", "free_by_Peter_Nerlich",
                     "friends_by_Aitzol_Berasategi", "life_by_Aitzol_Berasategi",
                     "picosdeeuropa_by_Aitzol_Berasategi", "seeding_by_Clements_Engelhardt",
                     "sunset_by_Aitzol_Berasategi")
_MATE_NATURE = ("Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird",
                "RainDrops", "Storm", "TwoWings", "Wood", "YellowFlower")
_PLASMA_PHOTOS = ("Autumn", "BytheWater", "EveningGlow", "FallenLeaf", "OneStandsOut", "Path")

PHOTO_SOURCES = (
    DebianSource("lomiri-16.04", "lomiri-wallpapers-16.04", "photo",
                 tuple(f"usr/share/backgrounds/{name}.jpg" for name in _LOMIRI_16_PHOTOS)),
    DebianSource("lomiri-20.04", "lomiri-wallpapers-20.04", "photo",
                 ("usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg",)),
    DebianSource("mate-nature", "mate-backgrounds", "photo",
                 tuple(f"usr/share/backgrounds/mate/nature/{name}.jpg" for name in _MATE_NATURE)),
    DebianSource("plasma-photos", "plasma-workspace-wallpapers", "photo",
                 tuple(f"usr/share/wallpapers/{name}/contents/images/2560x1600.jpg"
                       for name in _PLASMA_PHOTOS), role=ROLE_HELDOUT),
)
