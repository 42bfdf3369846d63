"""Plain prose out of marked-up documentation: HTML pages and fortune files.

The training text for modern English comes from Debian documentation
packages (:mod:`tokencom_sdr.data.debian_sources`). Their HTML carries
navigation bars, tables of contents, code listings and permalink marks that
are not English prose; :func:`html_to_text` keeps only the running text, one
paragraph per line, which is how the 17th-century corpus is laid out too (the
KJV is one paragraph per line). Fortune files are short texts separated by
lines holding ``%``; :func:`fortune_texts` splits them.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import List, Optional

__all__ = ["html_to_text", "fortune_texts", "prose_lines"]

# Elements whose whole content is not prose: code listings and terminal
# sessions (<pre>), page furniture and scripts.
_SKIPPED_TAGS = frozenset({"script", "style", "head", "pre", "nav", "footer", "code-block",
                           "svg", "math", "noscript", "template"})
# Classes of the navigation and listing elements of the three HTML toolchains
# we read: Sphinx (Python docs), DocBook (Debian Reference) and Publican
# (Debian Handbook).
_SKIPPED_CLASSES = frozenset({"navheader", "navfooter", "docnav", "toc", "sphinxsidebar",
                              "related", "footer", "headerlink", "breadcrumbs", "highlight",
                              "programlisting", "screen", "literallayout", "synopsis",
                              "index", "indexdiv", "legalnotice", "authorgroup"})
# Elements that end a paragraph (a line of the output).
_BLOCK_TAGS = frozenset({"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd",
                         "tr", "td", "th", "table", "blockquote", "section", "article",
                         "title", "caption", "figcaption", "ul", "ol", "dl", "br", "hr"})
# Elements with no end tag: never pushed on the open-element stack.
_VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link",
                        "meta", "source", "track", "wbr"})
_WHITESPACE = re.compile(r"\s+")
# Sphinx and DocBook decorate headings with a pilcrow or section sign link.
_DECORATIONS = str.maketrans({"\u00b6": " ", "\u200b": "", "\u00ad": ""})


class _ProseParser(HTMLParser):
    """Collects text outside skipped elements, cut into paragraphs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: List[str] = []
        self._current: List[str] = []
        # Open elements as (tag, starts a skipped region); a region is
        # skipped while any open element started one.
        self._open: List[tuple] = []
        self._skipping = 0

    def _end_paragraph(self) -> None:
        if self._current:
            self.paragraphs.append("".join(self._current))
            self._current = []

    def handle_starttag(self, tag, attrs):
        classes = set()
        for name, value in attrs:
            if name == "class" and value:
                classes.update(value.split())
        skips = tag in _SKIPPED_TAGS or bool(classes & _SKIPPED_CLASSES)
        if tag in _BLOCK_TAGS:
            self._end_paragraph()
        if tag in _VOID_TAGS:
            return
        self._open.append((tag, skips))
        self._skipping += skips

    def handle_startendtag(self, tag, attrs):
        if tag in _BLOCK_TAGS:
            self._end_paragraph()

    def handle_endtag(self, tag):
        if tag in _BLOCK_TAGS:
            self._end_paragraph()
        # Pages leave <p> and <li> unclosed: close everything opened after
        # the matching start tag. An end tag with no start tag is ignored.
        for depth in range(len(self._open) - 1, -1, -1):
            if self._open[depth][0] == tag:
                for _, skips in self._open[depth:]:
                    self._skipping -= skips
                del self._open[depth:]
                break

    def handle_data(self, data):
        if not self._skipping:
            self._current.append(data)

    def close(self):
        super().close()
        self._end_paragraph()


def prose_lines(paragraphs: List[str], min_words: int = 3) -> List[str]:
    """Whitespace collapsed, decorations removed, short fragments dropped.

    Parameters
    ----------
    paragraphs : list of str
        Raw paragraph texts.
    min_words : int
        Paragraphs with fewer words are dropped: headings such as
        ``"Next"``, ``"2.1. Introduction"`` and navigation crumbs.

    Returns
    -------
    list of str
        One cleaned paragraph per item, none empty, none containing ``"\\n"``.
    """
    lines = []
    for paragraph in paragraphs:
        line = _WHITESPACE.sub(" ", paragraph.translate(_DECORATIONS)).strip()
        if len(line.split(" ")) >= min_words:
            lines.append(line)
    return lines


def html_to_text(html: str, min_words: int = 3) -> str:
    """The running text of an HTML page, one paragraph per line.

    Skipped: ``<head>``, scripts, styles, ``<pre>`` (code and terminal
    output), and navigation, table-of-contents and listing elements by class
    (see ``_SKIPPED_CLASSES``). Entities are decoded.

    Parameters
    ----------
    html : str
        The page.
    min_words : int
        Shorter paragraphs are dropped (see :func:`prose_lines`).

    Returns
    -------
    str
        Paragraphs joined by ``"\\n"``, ending in ``"\\n"``; ``""`` if the
        page has no prose.
    """
    parser = _ProseParser()
    parser.feed(html)
    parser.close()
    lines = prose_lines(parser.paragraphs, min_words)
    return "\n".join(lines) + "\n" if lines else ""


def fortune_texts(raw: str, min_words: Optional[int] = 3) -> List[str]:
    """The texts of a fortune file (``strfile`` format: texts between ``%`` lines).

    Line breaks inside a fortune are kept (verse and dialogue use them);
    trailing blanks are dropped.

    Parameters
    ----------
    raw : str
        The file's content.
    min_words : int or None
        Fortunes with fewer words are dropped; None keeps all.

    Returns
    -------
    list of str
        One string per fortune, without the ``%`` separators, each ending
        in ``"\\n"``.
    """
    texts = []
    for chunk in re.split(r"^%[ \t]*$", raw.replace("\r\n", "\n"), flags=re.MULTILINE):
        lines = [line.rstrip() for line in chunk.split("\n")]
        text = "\n".join(lines).strip("\n")
        if not text.strip():
            continue
        if min_words is not None and len(text.split()) < min_words:
            continue
        texts.append(text + "\n")
    return texts
