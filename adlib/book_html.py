"""Checks over the built HTML book (``book/_build/html``), run by ``python -m adlib.book build``.

- :func:`remote_resources`: the book loads nothing from another host. A ``<script src>``, a
  stylesheet / icon / preload ``<link>``, an ``<img>``/``<iframe>``/``<source>``/``<embed>``/
  ``<object>`` with an ``http(s)://`` or ``//host`` address, an inline ``<script>`` holding such an
  address (e.g. a URL handed to a loader), or a CSS ``url(...)``/``@import`` of one, is reported.
  Links a reader may follow (``<a href>``) may point anywhere.
- :func:`broken_links`: every relative address on every page (``href``, ``src``) names a file of
  the built book, and a ``#fragment`` names an element id (or ``<a name>``) on the page it points to.

Both return human-readable problem lines (empty: all good); :func:`check_html` raises on any.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)  # http://, https://, //host
URL_IN_TEXT = re.compile(r"https?://[^\s\"'`)]+", re.IGNORECASE)
CSS_REMOTE = re.compile(r"(?:url\(\s*['\"]?|@import\s+['\"])((?:https?:)?//[^'\")\s]+)", re.IGNORECASE)
# XML namespace names look like URLs but are never fetched
NAMESPACES = ("//www.w3.org/",)
FETCHING_LINK_RELS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload", "modulepreload",
                      "prefetch", "manifest"}
SRC_TAGS = {"script", "img", "iframe", "source", "embed", "audio", "video", "track", "input"}
NOT_FILES = ("mailto:", "javascript:", "data:", "tel:")


@dataclass
class Page:
    """What one HTML file refers to, as parsed by :class:`_Collector`."""

    path: Path
    fetched: list[tuple[str, str]] = field(default_factory=list)  # (tag, address) the browser loads
    links: list[tuple[str, str]] = field(default_factory=list)  # (tag, address) of every href/src
    inline_scripts: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)


class _Collector(HTMLParser):
    def __init__(self, page: Page) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self._in_script = False
        self._script: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for key in ("id", "name") if tag == "a" else ("id",):
            if a.get(key):
                self.page.ids.add(a[key])
        if tag == "script":
            self._in_script, self._script = "src" not in a, []
        if "src" in a and tag in SRC_TAGS:
            self.page.fetched.append((tag, a["src"]))
            self.page.links.append((tag, a["src"]))
        if tag == "object" and a.get("data"):
            self.page.fetched.append((tag, a["data"]))
        if "href" in a and tag in ("a", "link", "area"):
            self.page.links.append((tag, a["href"]))
            rels = set(a.get("rel", "").lower().split())
            if tag == "link" and rels & FETCHING_LINK_RELS:
                self.page.fetched.append((f"link rel={a.get('rel')}", a["href"]))

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self._script.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._in_script:
            self.page.inline_scripts.append("".join(self._script))
            self._in_script = False


def parse_page(path: Path) -> Page:
    page = Page(path)
    collector = _Collector(page)
    collector.feed(path.read_text(encoding="utf-8", errors="replace"))
    collector.close()
    return page


def html_pages(html_dir: Path) -> Iterator[Path]:
    """Every page of the built book (sorted): its ``.html`` files outside Sphinx's ``_static``,
    ``_sources``, ``_images`` folders (the themes copy Jinja templates into ``_static``)."""
    for path in sorted(html_dir.rglob("*.html")):
        if path.is_file() and not path.relative_to(html_dir).parts[0].startswith("_"):
            yield path


def _remote(address: str) -> bool:
    return bool(REMOTE.match(address.strip())) and not address.strip().lower().startswith(NOT_FILES)


def remote_resources(html_dir: Path) -> list[str]:
    """Every place where the built book would load something from another host."""
    problems: list[str] = []
    for path in html_pages(html_dir):
        page = parse_page(path)
        rel = path.relative_to(html_dir)
        problems += [f"{rel}: <{tag}> loads {addr}" for tag, addr in page.fetched if _remote(addr)]
        for body in page.inline_scripts:
            for url in URL_IN_TEXT.findall(body):
                if not any(ns in url for ns in NAMESPACES):
                    problems.append(f"{rel}: an inline <script> names {url}")
    for css in sorted(html_dir.rglob("*.css")):
        for url in CSS_REMOTE.findall(css.read_text(encoding="utf-8", errors="replace")):
            problems.append(f"{css.relative_to(html_dir)}: loads {url}")
    return problems


def _target_file(html_dir: Path, page: Path, path_part: str) -> Path:
    """The file a relative address's path part names (a folder means its index.html)."""
    base = PurePosixPath(page.relative_to(html_dir).as_posix()).parent
    if path_part.startswith("/"):
        target = html_dir / unquote(path_part.lstrip("/"))
    else:
        target = html_dir / base / unquote(path_part)
    return target / "index.html" if target.is_dir() else target


def broken_links(html_dir: Path) -> list[str]:
    """Every relative ``href``/``src`` in the built book that names no file, or a fragment that
    names no element of its page."""
    html_dir = html_dir.resolve()
    pages = {p.resolve(): parse_page(p) for p in html_pages(html_dir)}
    problems: list[str] = []
    for path, page in pages.items():
        rel = path.relative_to(html_dir)
        for tag, address in page.links:
            address = address.strip()
            if not address or _remote(address) or address.lower().startswith(NOT_FILES) \
                    or re.match(r"^[a-z][a-z0-9+.-]*:", address, re.IGNORECASE):
                continue
            parts = urlsplit(address)
            target = _target_file(html_dir, path, parts.path).resolve() if parts.path else path
            if not target.is_file():
                problems.append(f"{rel}: <{tag}> {address} -> no file {target}")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html" and tag == "a":
                ids = pages[target].ids if target in pages else parse_page(target).ids
                if fragment not in ids:
                    problems.append(f"{rel}: <{tag}> {address} -> no id {fragment!r} in "
                                    f"{target.relative_to(html_dir)}")
    return problems


class BookHTMLError(RuntimeError):
    """The built book loads something from another host, or has a broken internal link."""


def check_html(html_dir: Path) -> None:
    """Raise :class:`BookHTMLError` listing every remote resource and broken internal link."""
    problems = remote_resources(html_dir) + broken_links(html_dir)
    if problems:
        shown = "\n  ".join(problems[:50]) + (f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else "")
        raise BookHTMLError(f"the built book in {html_dir} has {len(problems)} problem(s):\n  {shown}")
