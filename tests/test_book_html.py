"""The book works offline and has no broken internal links (adlib.book_html, adlib.book.build_html).

- the checks themselves, on small hand-written HTML trees: every kind of remote resource is
  reported, links a reader follows are not; a missing file or fragment is reported, good ones not;
- the built book (``book/_build/html``, skipped when not built): no page or stylesheet loads
  anything from another host, MathJax is served from ``_static``, every internal link resolves;
- a tiny temporary Jupyter Book: a broken Markdown link fails ``jupyter-book build -W -n``, and a
  broken raw-HTML link (which Sphinx does not see) fails ``adlib.book.build_html``'s check.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from adlib.book import BOOK_DIR, build_html
from adlib.book_html import BookHTMLError, broken_links, check_html, html_pages, remote_resources

BUILT = BOOK_DIR / "_build" / "html"


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_remote_resources_reports_every_kind_of_remote_load_and_not_links_to_follow(tmp_path):
    html = _write(tmp_path, {
        "index.html": """
            <html><head>
            <script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"></script>
            <link rel="stylesheet" href="//fonts.example.org/font.css">
            <link rel="canonical" href="https://example.org/book/">
            <script>const THEBE_JS_URL = "https://unpkg.com/thebe@0.8.2/lib/index.js"</script>
            <script>var ns = "http://www.w3.org/2000/svg";</script>
            <script src="_static/local.js"></script>
            </head><body>
            <img src="http://example.org/figure.png"><img src="_images/ok.png">
            <a href="https://arxiv.org/abs/1812.04606">the paper</a>
            </body></html>""",
        "_static/theme.css": "@import url('https://fonts.googleapis.com/css2?family=Lato');\n"
                             "body { background: url(img/bg.png); }",
    })
    problems = remote_resources(html)
    assert len(problems) == 5, problems
    for expected in ("cdn.jsdelivr.net", "fonts.example.org", "unpkg.com/thebe", "example.org/figure.png",
                     "fonts.googleapis.com"):
        assert sum(expected in p for p in problems) == 1, (expected, problems)
    assert not any("arxiv" in p or "w3.org" in p or "canonical" in p for p in problems)


def test_broken_links_reports_missing_files_and_fragments_only(tmp_path):
    html = _write(tmp_path, {
        "index.html": """
            <a href="paper/page.html#results">ok</a> <a href="paper/">folder with index.html</a>
            <a href="paper/missing.html">missing file</a> <a href="paper/page.html#nowhere">missing id</a>
            <a href="#top" id="top">self</a> <a href="#gone">missing id here</a>
            <a href="mailto:x@example.org">mail</a> <a href="https://example.org/x.html">remote</a>
            <img src="_images/figure.png"> <img src="_images/absent.png">
            <a href="paper/page.html?highlight=x#anchor">query and a name anchor</a>""",
        "paper/page.html": '<h2 id="results">Results</h2><a name="anchor"></a><a href="../index.html#top">up</a>',
        "paper/index.html": "<p>index</p>",
        "_images/figure.png": "png",
        "_static/template.html": "<a href=\"{{ pathto('x') }}\">a Jinja template, not a page</a>",
    })
    problems = broken_links(html)
    assert sorted(p.split(" -> ")[0] for p in problems) == sorted([
        "index.html: <a> paper/missing.html", "index.html: <a> paper/page.html#nowhere",
        "index.html: <a> #gone", "index.html: <img> _images/absent.png"]), problems
    assert [p.name for p in html_pages(html)] == ["index.html", "index.html", "page.html"]
    with pytest.raises(BookHTMLError, match="4 problem"):
        check_html(html)


@pytest.fixture(scope="module")
def built_book() -> Path:
    if not (BUILT / "index.html").is_file():
        pytest.skip(f"the book is not built ({BUILT}); build it with `make book` or "
                    "`ADLIB_STORED_ONLY=1 python -m adlib.book build`")
    return BUILT


@pytest.mark.book
def test_built_book_loads_nothing_from_another_host(built_book):
    """Every built page (and stylesheet): no http(s) script, stylesheet, image or inline loader URL."""
    pages = list(html_pages(built_book))
    assert len(pages) > 5
    assert remote_resources(built_book) == []


@pytest.mark.book
def test_built_book_serves_its_own_mathjax(built_book):
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").is_file()
    page = (built_book / "reproducing.html").read_text()
    assert 'class="math' in page, "the reproduction page's formula is not rendered as math"
    assert '_static/mathjax/tex-chtml.js' in page


@pytest.mark.book
def test_built_book_internal_links_resolve(built_book):
    assert broken_links(built_book) == []


# ------------------------------------------------------------------------------------------
# a tiny book, built for real


def _tiny_book(root: Path, intro: str) -> Path:
    """A one-page Jupyter Book with this book's _config.yml (extensions, MathJax, MyST options)
    and _extra files."""
    shutil.copytree(BOOK_DIR / "_extra", root / "_extra")
    config = yaml.safe_load((BOOK_DIR / "_config.yml").read_text())
    config["title"] = "tiny"
    (root / "_config.yml").write_text(yaml.safe_dump(config))
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (root / "intro.md").write_text(textwrap.dedent(intro))
    return root


def test_a_broken_markdown_link_fails_the_sphinx_build(tmp_path, capfd):
    book = _tiny_book(tmp_path, """
        # Intro

        See [a page that does not exist](missing.md) and $x^2$.
        """)
    with pytest.raises(subprocess.CalledProcessError):
        build_html(book_dir=book)
    out, err = capfd.readouterr()
    assert "missing.md" in out + err and "WARNING" in out + err


def test_a_broken_html_link_fails_the_book_check(tmp_path):
    """Links inside raw HTML (the status matrix is one) are invisible to Sphinx; the check sees them."""
    book = _tiny_book(tmp_path, """
        # Intro

        <a href="executed/nowhere.html">a raw HTML link to a page that does not exist</a>, and $x^2$.
        """)
    with pytest.raises(BookHTMLError, match="nowhere.html"):
        build_html(book_dir=book)
    shutil.rmtree(book / "_build", ignore_errors=True)
    (book / "intro.md").write_text("# Intro\n\nNo link here, and $x^2$.\n")
    assert build_html(book_dir=book).is_file()
