"""Open the built site in headless Chromium and fail on anything a reader would see broken.

    python .ci/check_site.py site [--screenshots DIR] [--timeout SECONDS]

Serves SITE on 127.0.0.1, opens every page in Debian's Chromium through the DevTools
protocol, and fails (exit 1, one line per problem) if on any page:

* a formula is not rendered by KaTeX (an ``.arithmatex`` element without ``.katex`` inside,
  a ``.katex-error``, or a formula with no size), or a KaTeX font fails to load;
* an image is broken, or any request (script, stylesheet, image, font, ...) fails or is
  answered with an HTTP error;
* a download the page offers (a link with a ``download`` attribute, such as a chapter's
  notebook) cannot be fetched, or a notebook is not an nbformat 4 notebook with cells;
* a line in a code block is cut off: the block is wider than its box, so a reader would
  have to find a hidden scroll bar (code blocks wrap, see docs/stylesheets/extra.css);
* the page requests an address other than the local server, or throws a script error.

Before the browser, a read of every page's HTML fails on what a builder can drop silently
(Zensical runs no MkDocs hooks and its strict mode passes all of these):

* a leaked placeholder (``{{value:`` or ``{{report:`` outside the API pages' code, where a
  docstring may name the syntax), or a directive comment where output should be (a
  ``<!-- run`` block not followed by its output, ``<!-- cli-reference -->`` and the like);
* an empty code block, or a command-output block that does not show each of its commands;
* a CLI reference without a ``Usage:`` block under each command's heading, or with none;
* an image whose file is not in the site;
* a chapter page without a download link to its notebook, or a notebook that is missing
  or fails ``nbformat.validate``.

Chromium runs with the flags that keep it off the network on its own account, a fresh
profile, and a proxy that is a trap: it forwards nothing, so no request of any kind leaves
the machine. Requests a page causes (its own, its scripts', its workers') are reported by
the DevTools protocol and judged per page; what reaches the trap without a page is
Chromium's own background traffic, which is listed but not held against the site. Every
wait is bounded; the whole check stops after --timeout.
"""

from __future__ import annotations

import argparse
import base64
import functools
import html
import http.server
import json
import posixpath
import re
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.sync.client import connect

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic",
                  "--disable-default-apps", "--disable-extensions", "--mute-audio",
                  "--hide-scrollbars", "--window-size=1280,900",
                  # Chromium's own background services (time, updates, autofill, sign-in,
                  # optimisation hints): off, so that the trap below records only what the
                  # pages cause.
                  "--no-pings", "--disable-domain-reliability", "--disable-breakpad",
                  "--disable-client-side-phishing-detection", "--disable-field-trial-config",
                  "--disable-features=AutofillServerCommunication,OptimizationHints,"
                  "OptimizationGuideModelDownloading,MediaRouter,Translate,"
                  "CertificateTransparencyComponentUpdater,NetworkTimeServiceQuerying,"
                  "SignInProfileCreation,DesktopPWAsLinkCapturing"]

# Evaluated in each page once it has loaded and its fonts are ready.
PAGE_STATE = r"""
(async () => {
  await document.fonts.ready;
  const math = [...document.querySelectorAll('.arithmatex')];
  const unrendered = math.filter(el => !el.querySelector('.katex'))
                         .map(el => el.textContent.slice(0, 80));
  const errors = [...document.querySelectorAll('.katex-error')]
                 .map(el => el.textContent.slice(0, 80));
  const empty = math.filter(el => {
    const html = el.querySelector('.katex-html');
    if (!html) return false;
    const box = html.getBoundingClientRect();
    return box.width === 0 && el.closest('details:not([open])') === null;
  }).map(el => el.textContent.slice(0, 80));
  const fonts = [...document.fonts].filter(f => f.family.replace(/"/g, '').startsWith('KaTeX'));
  const images = [...document.images].filter(img => !(img.complete && img.naturalWidth > 0))
                 .map(img => img.getAttribute('src'));
  const cut = [...document.querySelectorAll('pre > code')]
              .filter(el => el.closest('details:not([open])') === null &&
                            el.scrollWidth > el.clientWidth + 1)
              .map(el => el.textContent.slice(0, 60));
  const downloads = [];
  for (const link of document.querySelectorAll('a[download]')) {
    const entry = {href: link.getAttribute('href'), problem: null};
    try {
      const response = await fetch(link.href);
      if (!response.ok) {
        entry.problem = 'HTTP ' + response.status;
      } else if (entry.href.endsWith('.ipynb')) {
        const book = await response.json();
        if (book.nbformat !== 4 || !Array.isArray(book.cells) || book.cells.length === 0 ||
            !book.cells.some(cell => cell.cell_type === 'code'))
          entry.problem = 'not an nbformat 4 notebook with code cells';
      }
    } catch (error) {
      entry.problem = String(error);
    }
    downloads.push(entry);
  }
  return JSON.stringify({
    title: document.title, math: math.length, unrendered, errors, empty, images, cut,
    downloads,
    katexFontsLoaded: fonts.filter(f => f.status === 'loaded').length,
    katexFontErrors: fonts.filter(f => f.status === 'error').map(f => f.family),
    height: document.documentElement.scrollHeight,
  });
})()
"""


LEAK = re.compile(r"\{\{\s*(?:value|report):[^}]*\}?\}?")
DIRECTIVE = re.compile(r"<!-- (?:cli-reference|report-include|report-comparison|report-sample"
                       r"[^>]*|readme-quick-start) -->")
RUN_COMMENT = re.compile(r"<!-- run\n(?P<commands>.*?)\n-->", re.DOTALL)
RUN_OUTPUT = re.compile(r'\s*<p><em>Run while this site was built, on the machine that built '
                        r'it:</em></p>\s*<div class="highlight"><pre[^>]*>(?P<pre>.*?)</pre>',
                        re.DOTALL)
PRE = re.compile(r"<pre\b[^>]*>(?P<body>.*?)</pre>", re.DOTALL)
CODE = re.compile(r"<code\b[^>]*>.*?</code>", re.DOTALL)
TAG = re.compile(r"<[^>]+>")
IMAGE = re.compile(r'<img\b[^>]*?\bsrc="(?P<src>[^"]+)"')
NOTEBOOK_LINK = re.compile(r'<a\b(?=[^>]*\bdownload\b)[^>]*\bhref="(?P<href>[^"]+\.ipynb)"')
CLI_HEADING = re.compile(r"<h2\b[^>]*>\s*<code>charrnn\b")


def _text(fragment: str) -> str:
    return html.unescape(TAG.sub("", fragment))


def page_problems(site: Path, page: str) -> list[str]:
    """What the page's HTML shows is missing, without a browser (see the module docstring)."""
    import nbformat

    text = (site / page / "index.html").read_text(encoding="utf-8")
    problems = []
    prose = CODE.sub("", text) if page.startswith("reference/api/") else text
    problems += [f"leaked placeholder: {m[0][:60]!r}" for m in LEAK.finditer(prose)]
    problems += [f"directive comment where output should be: {m[0]!r}"
                 for m in DIRECTIVE.finditer(text)]
    for match in RUN_COMMENT.finditer(text):
        commands = [c.strip() for c in html.unescape(match["commands"]).splitlines()
                    if c.strip()]
        output = RUN_OUTPUT.match(text, match.end())
        shown = _text(output["pre"]) if output else ""
        missing = [c for c in commands if f"$ {c}" not in shown]
        if output is None:
            problems.append(f"directive comment where output should be: run {commands}")
        elif missing:
            problems.append(f"command-output block without its commands: {missing}")
    problems += ["empty code block" for m in PRE.finditer(text) if not _text(m["body"]).strip()]
    if page == "reference/cli":
        usages = sum(_text(m["body"]).lstrip().startswith("Usage: charrnn")
                     for m in PRE.finditer(text))
        headings = len(CLI_HEADING.findall(text))
        if usages == 0 or usages != headings:
            problems.append(f"CLI reference incomplete: {headings} command headings, "
                            f"{usages} Usage blocks")
    for match in IMAGE.finditer(text):
        src = html.unescape(match["src"])
        if re.match(r"^[a-z]+:", src):
            continue
        target = posixpath.normpath(posixpath.join(page, src.split("#")[0].split("?")[0]))
        if not (site / target).is_file():
            problems.append(f"figure not in the site: {src}")
    if page.startswith("chapters/"):
        links = [html.unescape(m["href"]) for m in NOTEBOOK_LINK.finditer(text)]
        if not links:
            problems.append("chapter without a link to its notebook")
        for href in links:
            book = site / posixpath.normpath(posixpath.join(page, href))
            try:
                nbformat.validate(nbformat.read(book, as_version=4))
            # nbformat reads a malformed file with any exception at all: each is a failure.
            except Exception as error:  # noqa: BLE001
                problems.append(f"notebook {href}: {str(error).splitlines()[0][:120]}")
    return problems


def check_html(site: Path, pages: list[str]) -> int:
    """Read every page's HTML for silent failures; print them; return how many pages failed."""
    failures = 0
    for page in pages:
        problems = page_problems(site, page)
        for problem in problems:
            print(f"FAIL /{'' if page == '.' else page + '/'}: {problem}", flush=True)
        failures += bool(problems)
    print(f"check_site: read the HTML of {len(pages)} pages, {len(pages) - failures} without "
          "problems", flush=True)
    return failures


PAGE_HOSTS: set[str] = set()  # external hosts that pages asked for (already failures)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site; remembers every request and its status instead of printing it."""

    log: list[tuple[str, int]]

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Record (path, status) for the report."""
        self.log.append((self.path, int(code) if str(code).isdigit() else 0))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Stay silent: problems are reported at the end."""


class Trap(socketserver.ThreadingTCPServer):
    """A proxy that forwards nothing: it records the first line of each request and closes."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.hits: list[str] = []
        super().__init__(("127.0.0.1", 0), self._handler())

    def _handler(self) -> type[socketserver.BaseRequestHandler]:
        trap = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(5)
                try:
                    first = self.rfile.readline(4096).decode("latin-1").strip()
                except OSError:
                    first = "(no request line)"
                trap.hits.append(first)
                self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

        return Handler


class DevTools:
    """A minimal DevTools protocol client: commands with ids, events buffered by session."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None, timeout: float = 30) -> dict[str, Any]:
        """Send one command and wait (at most ``timeout`` s) for its result."""
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def pump(self, seconds: float) -> None:
        """Collect events for up to ``seconds``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self.events.append(json.loads(self.ws.recv(timeout=left)))
            except TimeoutError:
                return


def start_chromium(profile: Path, proxy_port: int) -> tuple[subprocess.Popen[bytes], str]:
    """Chromium with remote debugging on a free port; returns it and its browser endpoint."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        sys.exit("check_site: chromium not found (apt-get install chromium)")
    process = subprocess.Popen(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
         f"--proxy-server=http://127.0.0.1:{proxy_port}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if port_file.is_file() and len(port_file.read_text().splitlines()) >= 2:
            port, path = port_file.read_text().splitlines()[:2]
            return process, f"ws://127.0.0.1:{port}{path}"
        if process.poll() is not None:
            sys.exit(f"check_site: chromium exited with status {process.returncode}")
        time.sleep(0.1)
    process.kill()
    sys.exit("check_site: chromium did not open its DevTools port within 30 s")


def check_page(tools: DevTools, url: str, origin: str, shots: Path | None,
               name: str) -> tuple[list[str], dict[str, Any]]:
    """Load one page in a fresh tab; return its problems and its state."""
    target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})
    session_id = session["sessionId"]
    for domain in ("Page", "Network", "Runtime", "Log"):
        tools.send(f"{domain}.enable", session=session_id)
    tools.events.clear()
    tools.send("Page.navigate", {"url": url}, session=session_id)

    # Wait for the load event, then for half a second without any network event (bounded:
    # 30 s in all). Images and fonts are checked once more below, after the fonts are ready.
    deadline, loaded, last_activity = time.monotonic() + 30, False, time.monotonic()
    while time.monotonic() < deadline:
        tools.pump(0.1)
        for event in tools.events:
            if event.get("sessionId") != session_id or event.get("_seen"):
                continue
            event["_seen"] = True
            if event.get("method") == "Page.loadEventFired":
                loaded = True
            if str(event.get("method")).startswith("Network."):
                last_activity = time.monotonic()
        if loaded and time.monotonic() - last_activity >= 0.5:
            break
    problems = [] if loaded else ["the page did not finish loading within 30 s"]

    result = tools.send("Runtime.evaluate", {"expression": PAGE_STATE, "awaitPromise": True,
                                             "returnByValue": True}, session=session_id)
    state = json.loads(result["result"]["value"])
    problems += [f"formula not rendered: {t!r}" for t in state["unrendered"]]
    problems += [f"KaTeX error: {t!r}" for t in state["errors"]]
    problems += [f"formula rendered with no width: {t!r}" for t in state["empty"]]
    problems += [f"KaTeX font failed to load: {f}" for f in state["katexFontErrors"]]
    problems += [f"broken image: {src}" for src in state["images"]]
    problems += [f"code block cut off (wider than its box): {t!r}" for t in state["cut"]]
    problems += [f"download {d['href']}: {d['problem']}" for d in state["downloads"]
                 if d["problem"]]
    if state["math"] and not state["katexFontsLoaded"]:
        problems.append("the page has math but no KaTeX font was loaded")

    for event in tools.events:
        if event.get("sessionId") != session_id:
            continue
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            request_url = params["request"]["url"]
            parts = urlsplit(request_url)
            if parts.scheme not in ("data", "blob", "about") and \
                    f"{parts.scheme}://{parts.netloc}" != origin:
                problems.append(f"external request: {request_url}")
                PAGE_HOSTS.add(parts.hostname or "")
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            problems.append(f"HTTP {params['response']['status']}: {params['response']['url']}")
        elif method == "Network.loadingFailed":
            problems.append(f"failed to load ({params.get('errorText')}): "
                            f"{params.get('type')} request {params['requestId']}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            problems.append(f"script error: {text}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            problems.append(f"console error: {params['entry']['text']}")

    if shots is not None:
        height = min(int(state["height"]), 16000)
        tools.send("Emulation.setDeviceMetricsOverride",
                   {"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": False},
                   session=session_id)
        tools.pump(0.3)
        image = tools.send("Page.captureScreenshot", {"format": "png"}, session=session_id)
        (shots / f"{name}.png").write_bytes(base64.b64decode(image["data"]))
    tools.send("Target.closeTarget", {"targetId": target})
    tools.events.clear()
    return problems, state


def check_pages(tools: DevTools, pages: list[str], origin: str, shots: Path | None) -> int:
    """Check each page; print its verdict and problems; return how many pages failed."""
    failures = 0
    for page in pages:
        url = f"{origin}/" + ("" if page == "." else f"{page}/")
        name = "home" if page == "." else page.replace("/", "_")
        problems, state = check_page(tools, url, origin, shots, name)
        status = "ok  " if not problems else "FAIL"
        downloads = f", {len(state['downloads'])} download(s)" if state["downloads"] else ""
        print(f"{status} /{'' if page == '.' else page + '/'}: {state['math']} formulas, "
              f"{state['katexFontsLoaded']} KaTeX fonts loaded{downloads}", flush=True)
        for problem in problems:
            print(f"       {problem}", flush=True)
        failures += bool(problems)
    return failures


def main(argv: list[str] | None = None) -> int:
    """Check every page of the built site; print one line per page and per problem."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the folder docs/build.py built")
    parser.add_argument("--screenshots", type=Path, help="save a full-page PNG of each page")
    parser.add_argument("--timeout", type=float, default=600, help="stop after this many s")
    parser.add_argument("--page", action="append", help="check only this page (repeatable)")
    parser.add_argument("--no-browser", action="store_true",
                        help="only read the HTML; do not open the pages in Chromium")
    args = parser.parse_args(argv)
    site = args.site.resolve()
    pages = args.page or sorted(p.relative_to(site).parent.as_posix()
                                for p in site.rglob("index.html"))
    if not pages:
        sys.exit(f"check_site: no pages in {site}: build the site first")
    html_failures = check_html(site, pages)
    if args.no_browser:
        return 1 if html_failures else 0
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)

    QuietHandler.log = []
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    trap = Trap()
    for s in (server, trap):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"

    # The whole check is bounded: a watchdog kills Chromium if it runs past --timeout.
    failures, started = 0, time.monotonic()
    with tempfile.TemporaryDirectory(prefix="check-site-") as profile:
        chromium, endpoint = start_chromium(Path(profile), trap.server_address[1])
        watchdog = threading.Timer(args.timeout, chromium.kill)
        watchdog.start()
        try:
            with connect(endpoint, max_size=64 * 2**20, open_timeout=20) as ws:
                tools = DevTools(ws)
                failures = check_pages(tools, pages, origin, args.screenshots)
        finally:

            watchdog.cancel()
            chromium.terminate()
            try:
                chromium.wait(timeout=10)
            except subprocess.TimeoutExpired:
                chromium.kill()
            server.shutdown()
            trap.shutdown()
    errors = [(path, code) for path, code in QuietHandler.log if code >= 400]
    for path, code in errors:
        print(f"FAIL server answered {code} for {path}")
    # Requests a page causes (its own, its scripts', its workers') reach the page's session
    # and were judged above. What reaches the trap without a page is Chromium's own
    # background traffic (sign-in, updates) that no flag fully stops: blocked, and listed.
    for hit in sorted(set(trap.hits)):
        host = hit.split()[1].split("://")[-1].split("/")[0].rsplit(":", 1)[0] \
            if len(hit.split()) > 1 else ""
        if host not in PAGE_HOSTS:
            print(f"note: blocked a request of Chromium itself, not of a page: {hit[:100]}")
    total = len(pages)
    failed = failures + bool(errors) + html_failures
    print(f"check_site: {total} pages in {time.monotonic() - started:.0f} s, "
          f"{total - failures} without problems")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
