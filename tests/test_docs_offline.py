"""The documentation site as an air-gapped reader sees it: built, served from loopback, and
opened page by page in headless Chromium that may reach nothing but that server.

Every page must load without a single request outside the site (no web fonts, no CDN script,
no remote image), without a console error, and with every Mermaid diagram drawn as an SVG
rather than left as code. One browser and one tab visit all pages, so the test stays fast.
The browser is Debian's ``chromium`` (``apt-get install chromium``), driven by Playwright over
the DevTools protocol; Playwright downloads no browser of its own.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.test_docs import ROOT, doc_pages

pytestmark = pytest.mark.slow

CHROMIUM_NAMES = ("chromium", "chromium-browser")
# The raw text of a diagram that was not drawn starts with its kind.
MERMAID_SOURCE = re.compile(r"^\s*(flowchart|graph|sequenceDiagram|stateDiagram)\b", re.M)


def _chromium() -> str:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("no chromium on PATH: .ci/run installs Debian's chromium package")
    pytest.skip("no chromium on PATH (apt-get install chromium)")


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the base class names it so
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The built site, served on a loopback port; yields its base URL."""
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=ROOT, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, capture_output=True,
        text=True, timeout=300, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(QuietHandler, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _page_url(base: str, page: str) -> str:
    return base if page == "index.md" else f"{base}{Path(page).with_suffix('')}/"


def _drawn_diagrams(cdp: Any) -> tuple[int, int]:
    """(diagram hosts, hosts whose shadow root holds an <svg>): the theme draws each diagram
    into a closed shadow root, which only the DevTools protocol's pierce can see."""
    root = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
    hosts = drawn = 0

    def has_svg(node: dict[str, Any]) -> bool:
        if node.get("localName") == "svg":
            return True
        return any(has_svg(child) for child in node.get("children", []))

    def walk(node: dict[str, Any]) -> None:
        nonlocal hosts, drawn
        attributes = node.get("attributes", [])
        classes = dict(zip(attributes[::2], attributes[1::2], strict=True)).get("class", "")
        if node.get("localName") == "div" and "mermaid" in classes.split():
            hosts += 1
            if any(has_svg(shadow) for shadow in node.get("shadowRoots", [])):
                drawn += 1
        for child in [*node.get("children", []), *node.get("shadowRoots", [])]:
            walk(child)

    walk(root)
    return hosts, drawn


def test_every_page_renders_offline_with_its_diagrams_drawn(site: str) -> None:
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    problems: list[str] = []
    diagrams_seen = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            # Belt and braces: no name resolves except loopback, whatever the page asks for.
            args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
        try:
            context = browser.new_context(service_workers="block")
            outside: list[str] = []

            def only_the_site(route: Any) -> None:
                if route.request.url.startswith(site) or route.request.url.startswith("data:"):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            context.route("**/*", only_the_site)
            tab = context.new_page()
            errors: list[str] = []
            tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            cdp = context.new_cdp_session(tab)
            for page in doc_pages():
                outside.clear()
                errors.clear()
                url = _page_url(site, page)
                response = tab.goto(url, wait_until="load")
                assert response is not None and response.ok, f"{page}: {url}"
                sources = tab.locator("pre.mermaid, div.mermaid").count()
                if sources:
                    # The theme replaces each <pre class="mermaid"> with a drawn host.
                    tab.wait_for_function("document.querySelectorAll('pre.mermaid').length === 0",
                                          timeout=30_000)
                    hosts, drawn = _drawn_diagrams(cdp)
                    diagrams_seen += drawn
                    if hosts != sources or drawn != hosts:
                        problems.append(f"{page}: {drawn} of {sources} diagram(s) drawn")
                text = tab.inner_text("article")
                if MERMAID_SOURCE.search(text):
                    problems.append(f"{page}: diagram source shown as text")
                tab.wait_for_load_state("networkidle")
                problems.extend(f"{page}: request outside the site: {u}" for u in outside)
                problems.extend(f"{page}: console error: {e}" for e in errors)
        finally:
            browser.close()
    assert problems == []
    assert diagrams_seen >= 2  # the architecture map and the concepts loop
