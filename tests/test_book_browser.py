"""The built book in a real browser: headless Chromium against ``book/_build/html`` on 127.0.0.1.

The book is served by :mod:`http.server` on a free port of 127.0.0.1 (in a thread); Chromium
(Debian's ``chromium``) is driven over the Chrome DevTools Protocol with ``websocket-client``,
with every host name but 127.0.0.1 made unresolvable, so nothing can come from the network. The
test opens the front page, the reproduction page, every paper's chapter page and the first page of
every paper that has reproduced pages (from ``adlib.papers.registry.NOTEBOOKS``, so papers added
later are covered), and checks on each:

- no console error, uncaught exception or failed load, every request went to 127.0.0.1, and every
  response was a success (no 404 for a stylesheet, script, image or font);
- math renders: every ``.math`` element holds a MathJax ``mjx-container`` and MathJax reported no
  ``mjx-merror`` (the reproduction page must have math);
- the front page shows the status matrix, one row per table and figure of ``status_matrix()``;
- the search page finds pages (Sphinx's search index, served locally);
- a paper's first reproduced page shows at least one figure (an ``<img>`` with nonzero natural
  width) and one table with rows; a chapter page shows the paper's tables.

It saves PNG screenshots (1280 × 800) of the front page and of each paper's first reproduced page
to ``$ADLIB_SCREENSHOTS`` (default ``build/screenshots``); ``make screenshots`` writes the README's
copies to ``docs/screenshots``. ``test_readme_shows_a_screenshot_per_reproduced_paper`` (no browser)
checks those copies exist, stay small, and are shown in the README.

Skipped, with the reason, when Chromium or the built book is missing (``make test`` builds the
book first: ``make test-browser`` runs after ``make test-book``); with ``ADLIB_REQUIRE_BROWSER=1``
(``.ci/run`` sets it) a missing Chromium fails instead. ``$ADLIB_CHROMIUM`` names another Chromium
binary.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from adlib.book import BOOK_DIR
from adlib.papers.registry import NOTEBOOKS
from adlib.results import REPO_ROOT

HTML_DIR = BOOK_DIR / "_build" / "html"
README_SHOTS = REPO_ROOT / "docs" / "screenshots"
VIEWPORT = (1280, 800)
TIMEOUT_S = 60.0  # per page; the build machine has 2 busy cores
MAX_SCREENSHOT_BYTES = 300_000  # each of the README's copies


def reproduced_pages() -> dict[str, str]:
    """paper -> the book path of its first reproduced page: its first notebook in
    ``adlib.papers.registry.NOTEBOOKS`` that re-runs something (not a paper-values-only page)."""
    pages: dict[str, str] = {}
    for nb in NOTEBOOKS:
        if nb.not_runnable is None:
            pages.setdefault(nb.paper, f"executed/{nb.paper}/{nb.name}.html")
    return pages


def chapter_pages() -> dict[str, str]:
    from adlib.paper_values import PAPERS

    return {paper: f"executed/{paper}/index.html" for paper in PAPERS}


# ------------------------------------------------------------------------------------------
# the server, the browser, the protocol


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """``directory`` on http://127.0.0.1:<free port>/, served from a thread."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The built book on http://127.0.0.1:<free port>/."""
    if not (HTML_DIR / "index.html").is_file():
        pytest.skip(f"the book is not built ({HTML_DIR}); `make test-book` builds it "
                    "(ADLIB_STORED_ONLY=1 python -m adlib.book build)")
    with serve(HTML_DIR) as url:
        yield url


def chromium_binary() -> str | None:
    """$ADLIB_CHROMIUM, else the first of chromium, chromium-browser, google-chrome on PATH."""
    names = [os.environ["ADLIB_CHROMIUM"]] if os.environ.get("ADLIB_CHROMIUM") else \
        ["chromium", "chromium-browser", "google-chrome"]
    return next(filter(None, map(shutil.which, names)), None)


@dataclass
class Visit:
    """What the browser saw while loading one page."""

    url: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # responses with status >= 400, failed loads


class Cdp:
    """One Chromium tab driven over the Chrome DevTools Protocol (JSON over websocket-client)."""

    def __init__(self, ws_url: str) -> None:
        import websocket  # websocket-client

        self.ws = websocket.create_connection(ws_url, timeout=TIMEOUT_S, suppress_origin=True)
        self._next_id = 0
        self.visit = Visit("")

    def call(self, method: str, **params: Any) -> dict:
        self._next_id += 1
        self.ws.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = self._receive()
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def wait_for(self, event: str, timeout: float = TIMEOUT_S) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self._receive()
            if message.get("method") == event:
                return message.get("params", {})
        raise TimeoutError(f"no {event} within {timeout} s at {self.visit.url}")

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression (a promise is awaited)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True,
                           timeout=TIMEOUT_S * 1000)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} threw {result['exceptionDetails']}")
        return result["result"].get("value")

    def _receive(self) -> dict:
        message = json.loads(self.ws.recv())
        self._record(message.get("method"), message.get("params", {}))
        return message

    def _record(self, method: str | None, params: dict) -> None:
        v = self.visit
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            v.errors.append(f"uncaught: {details.get('exception', {}).get('description') or details.get('text')}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            v.errors.append("console.error: " + " ".join(str(a.get("value", a.get("description", "")))
                                                         for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            v.errors.append(f"{params['entry'].get('source')}: {params['entry'].get('text')} "
                            f"{params['entry'].get('url', '')}")
        elif method == "Network.requestWillBeSent":
            v.requests.append(params["request"]["url"])
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            v.failed.append(f"{params['response']['status']} {params['response']['url']}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            v.failed.append(f"{params.get('errorText')} ({params.get('type')})")

    def open(self, url: str) -> Visit:
        """Load ``url``, follow a meta refresh, wait for MathJax's typesetting; the visit's record."""
        self.visit = Visit(url)
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise RuntimeError(f"{url}: {result['errorText']}")
        self.wait_for("Page.loadEventFired")
        deadline = time.monotonic() + TIMEOUT_S
        while self.evaluate("document.readyState !== 'complete' || "
                            "!!document.querySelector('meta[http-equiv=Refresh i]')"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not finish loading")
            time.sleep(0.2)
        self.evaluate("window.MathJax && MathJax.startup && MathJax.startup.promise "
                      "? MathJax.startup.promise.then(() => true) : true")
        self.settle()
        return self.visit

    def settle(self, quiet_s: float = 0.5, max_s: float = 10.0) -> None:
        """Record events until none came for ``quiet_s`` (late loads such as icons and fonts belong
        to this visit, not the next)."""
        import websocket

        deadline = time.monotonic() + max_s
        self.ws.settimeout(quiet_s)
        try:
            while time.monotonic() < deadline:
                self._receive()
        except websocket.WebSocketTimeoutException:
            pass
        finally:
            self.ws.settimeout(TIMEOUT_S)

    def screenshot(self, path: Path) -> int:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        path.write_bytes(data)
        return len(data)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cdp]:
    """Headless Chromium with one tab under CDP; no host but 127.0.0.1 resolves."""
    binary = chromium_binary()
    if binary is None:
        why = ("Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it); "
               "or set ADLIB_CHROMIUM to a Chromium binary")
        if os.environ.get("ADLIB_REQUIRE_BROWSER"):
            pytest.fail(why + " [ADLIB_REQUIRE_BROWSER is set]")
        pytest.skip(why)
    profile = tmp_path_factory.mktemp("chromium-profile")
    log = (profile.parent / "chromium.log").open("wb")
    proc = subprocess.Popen(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--mute-audio",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
         f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}", "--force-device-scale-factor=1",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", f"--user-data-dir={profile}",
         "about:blank"],
        stdout=log, stderr=log)
    cdp = None
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + TIMEOUT_S
        while not (port_file.is_file() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Chromium did not start (exit {proc.poll()}); see {log.name}")
            time.sleep(0.2)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=TIMEOUT_S) as r:
            tab = next(t for t in json.load(r) if t["type"] == "page")
        cdp = Cdp(tab["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log", "Network"):
            cdp.call(f"{domain}.enable")
        cdp.call("Network.setCacheDisabled", cacheDisabled=True)
        cdp.call("Emulation.setDeviceMetricsOverride", width=VIEWPORT[0], height=VIEWPORT[1],
                 deviceScaleFactor=1, mobile=False)
        yield cdp
    finally:
        if cdp is not None:
            cdp.ws.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def screenshot_dir() -> Path:
    return Path(os.environ.get("ADLIB_SCREENSHOTS") or REPO_ROOT / "build" / "screenshots").resolve()


# ------------------------------------------------------------------------------------------
# what a page must show

PAGE_FACTS = """(() => {
  const visible = e => e.getClientRects().length > 0;
  const main = document.querySelector('main') || document.body;
  const tables = Array.from(main.querySelectorAll('table')).filter(visible);
  const maths = Array.from(main.querySelectorAll('.math'));
  return {
    path: location.pathname,
    title: document.title,
    tables: tables.filter(t => t.querySelectorAll('tbody tr').length > 0).length,
    images: Array.from(main.querySelectorAll('img')).map(i => [i.getAttribute('src'), i.naturalWidth]),
    math: maths.length,
    mathUnrendered: maths.filter(m => !m.querySelector('mjx-container')).length,
    mjx: document.querySelectorAll('mjx-container').length,
    mathErrors: Array.from(document.querySelectorAll('mjx-merror')).map(e => e.textContent),
    statusRows: document.querySelectorAll('table.status-matrix tbody tr').length,
  };
})()"""


def _check_visit(visit: Visit, base: str) -> None:
    host = urlsplit(base).netloc
    off_host = [u for u in visit.requests if urlsplit(u).scheme not in ("data", "blob", "about")
                and urlsplit(u).netloc != host]
    assert not off_host, f"{visit.url} requested other hosts: {off_host}"
    assert not visit.failed, f"{visit.url}: failed loads: {visit.failed}"
    assert not visit.errors, f"{visit.url}: console errors:\n" + "\n".join(visit.errors)


def _check_math(facts: dict, url: str) -> None:
    assert facts["mathUnrendered"] == 0, f"{url}: {facts['mathUnrendered']} of {facts['math']} formulas not rendered"
    assert not facts["mathErrors"], f"{url}: MathJax errors {facts['mathErrors']}"


@pytest.mark.book
def test_the_browser_reports_errors_failed_loads_and_other_hosts(browser, tmp_path):
    """The checks can fail: a page that throws, logs an error, misses an image and asks another host."""
    (tmp_path / "bad.html").write_text(
        '<html><head><link rel="icon" href="data:,"></head><body><img src="missing.png">'
        '<script src="https://cdn.example.org/lib.js"></script>'
        '<script>console.error("boom"); undefinedFunction();</script></body></html>')
    with serve(tmp_path) as base:
        visit = browser.open(base + "bad.html")
        with pytest.raises(AssertionError, match="other hosts"):
            _check_visit(visit, base)
    assert any("cdn.example.org" in u for u in visit.requests)
    assert any("404" in f and "missing.png" in f for f in visit.failed), visit.failed
    assert any("boom" in e for e in visit.errors) and any("undefinedFunction" in e for e in visit.errors), \
        visit.errors


@pytest.mark.book
def test_front_page_shows_the_status_matrix(server, browser):
    from adlib.book import status_matrix

    visit = browser.open(server)
    facts = browser.evaluate(PAGE_FACTS)
    assert facts["path"].endswith("/executed/status.html"), facts["path"]  # index.html redirects
    _check_visit(visit, server)
    _check_math(facts, server)
    assert facts["statusRows"] == len(status_matrix()), "the status matrix lacks rows"
    browser.evaluate("(() => { const t = document.querySelector('table.status-matrix');"
                     " (t.closest('section') || t).scrollIntoView({block: 'start'}); return true; })()")
    assert browser.screenshot(screenshot_dir() / "front.png") > 0


@pytest.mark.book
def test_reproduction_page_renders_math(server, browser):
    url = server + "reproducing.html"
    visit = browser.open(url)
    facts = browser.evaluate(PAGE_FACTS)
    _check_visit(visit, server)
    assert facts["math"] >= 2 and facts["mjx"] >= 2, f"{url}: no rendered math ({facts})"
    _check_math(facts, url)


@pytest.mark.book
def test_measurements_page_shows_the_cost_tables_and_the_throughput_figure(server, browser):
    """The page that says what re-computing costs renders its tables (per-experiment cost, and the
    benchmarks' where they were measured) and the throughput figure, with no console errors."""
    from adlib.measurements import PEAK_MEMORY, THROUGHPUT

    url = server + "executed/measurements.html"
    visit = browser.open(url)
    browser.evaluate("(() => { const i = document.querySelector('main img'); if (!i) return true;"
                     " i.scrollIntoView({block: 'center'}); return i.decode().then(() => true, () => false); })()")
    facts = browser.evaluate(PAGE_FACTS)
    _check_visit(visit, server)
    measured = [THROUGHPUT.exists(), PEAK_MEMORY.exists()]
    assert facts["tables"] >= 1 + sum(measured), f"{url}: {facts['tables']} tables for {measured} measurements"
    if THROUGHPUT.exists():
        assert any(width > 0 for _, width in facts["images"]), f"{url}: no throughput figure ({facts['images']})"


@pytest.mark.book
def test_search_finds_pages_offline(server, browser):
    """Sphinx's client-side search (searchindex.js, served locally) lists pages for a word."""
    url = server + "search.html?q=exposure"
    visit = browser.open(url)
    deadline = time.monotonic() + TIMEOUT_S
    while not (hits := browser.evaluate(
            "Array.from(document.querySelectorAll('#search-results li a')).map(a => a.getAttribute('href'))")):
        assert time.monotonic() < deadline, f"{url}: no search results"
        time.sleep(0.5)
    browser.settle()
    _check_visit(visit, server)
    assert any("hendrycks2019" in h for h in hits), hits


@pytest.mark.book
@pytest.mark.parametrize("paper", sorted(chapter_pages()))
def test_paper_chapter_page_renders(server, browser, paper):
    url = server + chapter_pages()[paper]
    visit = browser.open(url)
    facts = browser.evaluate(PAGE_FACTS)
    _check_visit(visit, server)
    _check_math(facts, url)
    assert facts["tables"] >= 1, f"{url}: no table of the paper's values rendered"


@pytest.mark.book
@pytest.mark.parametrize("paper", sorted(reproduced_pages()))
def test_first_reproduced_page_shows_a_figure_and_a_table(server, browser, paper):
    url = server + reproduced_pages()[paper]
    visit = browser.open(url)
    browser.evaluate("(() => { const i = document.querySelector('main img'); if (!i) return true;"
                     " i.scrollIntoView({block: 'center'}); return i.decode().then(() => true, () => false); })()")
    facts = browser.evaluate(PAGE_FACTS)
    _check_visit(visit, server)
    _check_math(facts, url)
    assert any(width > 0 for _, width in facts["images"]), f"{url}: no figure rendered ({facts['images']})"
    assert facts["tables"] >= 1, f"{url}: no table rendered"
    assert browser.screenshot(screenshot_dir() / f"{paper}.png") > 0


def test_readme_shows_a_screenshot_per_reproduced_paper():
    """docs/screenshots holds the front page and one page per reproduced paper, each small, and
    the README shows them all (regenerate with `make screenshots` when a paper lands)."""
    readme = (REPO_ROOT / "README.md").read_text()
    for name in ["front", *sorted(reproduced_pages())]:
        shot = README_SHOTS / f"{name}.png"
        assert shot.is_file(), f"{shot} is missing: run `make screenshots` and add it to the README"
        assert shot.stat().st_size <= MAX_SCREENSHOT_BYTES, f"{shot} is over {MAX_SCREENSHOT_BYTES} bytes"
        assert f"docs/screenshots/{name}.png" in readme, f"the README does not show docs/screenshots/{name}.png"
