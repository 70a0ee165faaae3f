#!/usr/bin/env python3
"""Opens an `unmt report --out DIR` page in headless Chromium and checks what a reader sees.

Usage: tests/report_html.py [REPORT.html] [SCREENSHOT.png]

Default REPORT.html: target/tmp/quickstart-report/report.html, which the quickstart CLI test
(`cargo test`, tests/cli/quickstart.rs) writes. Fails (exit 1) on any console message of
level error or warning, a failed request (the page must be self-contained), a page error, a
figure without a drawn SVG (no plotted line), a table without rows, or a missing expected
figure. Saves a full-page screenshot (default: beside the page, `report.png`).

Needs Debian's chromium (/usr/bin/chromium, or $CHROMIUM) and `pip install playwright`
(its Python driver only: the browser is the system's).
"""
import os
import sys

from playwright.sync_api import sync_playwright

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    REPO, "target", "tmp", "quickstart-report", "report.html")
SHOT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(PAGE), "report.png")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The quickstart trains MLMs and UNMT models and runs BLI: each of these must be drawn.
EXPECTED = [p for p in os.environ.get(
    "EXPECTED_PLOTS", "mlm_ppl,unmt_bleu,bli,mlm_loss,unmt_loss").split(",") if p]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not os.path.isfile(PAGE):
    sys.exit(f"no report at {PAGE}: run `cargo test` first (the quickstart test writes it)")

problems = []
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("request", lambda r: problems.append(f"external request: {r.url}")
            if not r.url.startswith("file:") else None)
    page.goto("file://" + os.path.abspath(PAGE))
    page.wait_for_load_state("load")

    tables = page.locator("section.table")
    n_tables = tables.count()
    if n_tables == 0:
        problems.append("no tables")
    for i in range(n_tables):
        t = tables.nth(i)
        rows = t.locator("tr").count() - 1
        if rows < 1:
            problems.append(f"table {t.get_attribute('id')} has no rows")

    figures = {}
    for i in range(page.locator("figure.plot").count()):
        f = page.locator("figure.plot").nth(i)
        name = (f.get_attribute("id") or "").removeprefix("plot-")
        svg = f.locator("svg")
        box = svg.bounding_box() if svg.count() else None
        # A drawn line is an SVG polyline/path with points; an empty chart has only the mesh.
        lines = f.locator("svg polyline").count() + f.locator("svg path").count()
        figures[name] = (box, lines)
        if box is None or box["width"] < 100 or box["height"] < 100:
            problems.append(f"figure {name}: no visible SVG ({box})")
        if lines == 0:
            problems.append(f"figure {name}: nothing plotted")
    for name in EXPECTED:
        if name not in figures:
            problems.append(f"figure {name} is missing (figures: {sorted(figures)})")

    page.screenshot(path=SHOT, full_page=True)
    browser.close()

print(f"{PAGE}: {n_tables} tables, figures {sorted(figures)}")
print(f"screenshot: {SHOT}")
if problems:
    for p in problems:
        print("FAIL:", p)
    sys.exit(1)
print("ok")
