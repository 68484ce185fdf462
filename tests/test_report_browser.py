"""report.html as a reader sees it: opened in headless Chromium, offline.

Debian's Chromium (``apt-get install chromium``), driven by Playwright's Python package through
``executable_path``: Playwright never downloads a browser here. Every request that is not for a
``file:`` URL is aborted, the flags switch off what Chromium fetches on its own (component
updates, sync, field trials) and it may resolve no host name, so neither the page nor the browser
reaches anything beyond this machine.
Without Chromium the test skips, except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Request, Route, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",  # root in containers and CI has no user namespace for the sandbox
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    # Chromium still looks up accounts.google.com and update.googleapis.com on its own: resolve no
    # name at all, so nothing is looked up or sent beyond this machine.
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


@pytest.fixture
def chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run installs it (apt-get install chromium)")
    pytest.skip("apt-get install chromium")


@pytest.mark.slow
def test_report_html_shows_every_figure_and_table_in_chromium(
    chromium: Path, report: Path, tmp_path: Path
) -> None:
    requested: list[str] = []
    aborted: list[str] = []
    errors: list[str] = []

    def only_files(route: Route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            aborted.append(route.request.url)
            route.abort()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    def recorded(request: Request) -> None:
        requested.append(request.url)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            tmp_path / "profile",
            executable_path=chromium,
            headless=True,
            args=FLAGS,
            env={**os.environ, "HOME": str(tmp_path)},  # its crash database too, not ~/.config
        )
        try:
            browser.route("**/*", only_files)
            browser.on("request", recorded)
            page = browser.pages[0] if browser.pages else browser.new_page()
            page.on("console", console)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(report.joinpath("report.html").as_uri())  # returns after the load event
            images = page.eval_on_selector_all(
                "img", "all => all.map(img => [img.getAttribute('src'), img.naturalWidth])"
            )
            outcomes = page.eval_on_selector_all(
                "h2:text-is('Outcomes and attrition') + table tr:has(td)",
                "rows => rows.map(row => [...row.cells].map(cell => cell.textContent))",
            )
            accounts = page.eval_on_selector_all(
                "h2:text-is('Engagement by account') + table tr:has(td)",
                "rows => rows.map(row => row.cells[0].textContent)",
            )
            page.screenshot(path=tmp_path / "report.png", full_page=True)
        finally:
            browser.close()

    figures = sorted(path.relative_to(report).as_posix() for path in report.glob("figures/*.png"))
    assert sorted(src for src, _ in images) == figures and len(figures) == 5
    assert [src for src, width in images if width <= 0] == [], "figures that did not load"
    assert outcomes == [["ok", "60"], ["unavailable", "4"]]
    assert len(accounts) == 8 and all(name.startswith("synthetic_") for name in accounts)
    assert errors == []
    assert aborted == []
    assert {url.split(":", 1)[0] for url in requested} == {"file"}
    assert (tmp_path / "report.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
