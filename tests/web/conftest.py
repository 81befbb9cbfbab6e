"""Browser tests: Debian's Chromium driven by Playwright against the live server.

One browser for the whole session (pytest-playwright's `browser`), a fresh context and page per
test. The live server shares the PostgreSQL test database, so these tests are transactional
(pytest-django's `live_server` asks for `transactional_db`). Mark each module
`pytestmark = pytest.mark.browser`; select them with `-m browser`, skip them with
`-m "not browser"`.

Fixtures for the tests here:
- `page`: Playwright's page, with relative URLs on the live server; a test fails if the page
  breaks the Content-Security-Policy or throws a JavaScript error.
- `sign_in(user)`: the browser carries `user`'s session (no log-in form; tests of the form type
  into it).
- `tab_to(locator)`: press Tab until `locator` has the focus, as a keyboard user would.
- `axe(page)`: run axe-core in the page (WCAG 2.x A and AA): fails on a serious or critical
  violation.
- `screenshot(page, name)`: a full-page PNG under `$CLEANROOM_SCREENSHOTS`, else under pytest's
  temporary folder (`<basetemp>/screenshots/`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import BrowserContext, Locator, Page

CHROMIUM = Path(os.environ.get("CLEANROOM_CHROMIUM") or "/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[1] / "js" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING_IMPACTS = {"serious", "critical"}
MOST_TABS = 40  # no page of ours needs more presses of Tab to reach anything


@pytest.fixture(scope="session", autouse=True)
def _orm_beside_playwright() -> Iterator[None]:
    """Playwright's synchronous API keeps an asyncio loop in the test's thread, and Django
    refuses database calls from a thread with a running loop unless told they are safe. They
    are: the loop is Playwright's, and nothing of ours runs in it. Set for the rest of the
    session, since the test database may be created after the browser has started."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's Chromium by path (scripts/setup.sh installs it); Playwright downloads nothing."""
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run scripts/setup.sh (apt package `chromium`) or set CLEANROOM_CHROMIUM")
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        # /dev/shm is small in containers; without this, Chromium's renderers crash on big pages.
        "args": ["--disable-dev-shm-usage", "--disable-gpu"],
    }


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    """Relative URLs in page.goto() and expect(page).to_have_url() are on the live server."""
    return live_server.url


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
    page.on(
        "console",
        lambda message: problems.append(f"CSP violation: {message.text}") if "Content Security Policy" in message.text else None,
    )
    yield page
    assert problems == [], "the page broke:\n" + "\n".join(problems)


@pytest.fixture
def sign_in(context: BrowserContext, live_server) -> Callable[..., None]:
    def sign_in(user) -> None:
        client = Client()
        client.force_login(user)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])

    return sign_in


@pytest.fixture
def tab_to(page: Page) -> Callable[[Locator], None]:
    def tab_to(target: Locator) -> None:
        for _ in range(MOST_TABS):
            page.keyboard.press("Tab")
            if target.evaluate("element => element === document.activeElement"):
                return
        pytest.fail(f"{MOST_TABS} presses of Tab never reached {target}")

    return tab_to


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run scripts/js-setup.sh")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
def axe(axe_source: str) -> Callable[[Page], None]:
    def check(page: Page) -> None:
        # Evaluated through the DevTools protocol, not a <script> element: the page's
        # Content-Security-Policy does not apply to it, and the page is not changed.
        page.evaluate(f"() => {{ {axe_source}\n}}")
        found = page.evaluate(
            "async tags => (await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']}))"
            ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.html)}))",
            AXE_TAGS,
        )
        blocking = [violation for violation in found if violation["impact"] in BLOCKING_IMPACTS]
        assert blocking == [], f"axe-core on {page.url}:\n" + json.dumps(blocking, indent=2)

    return check


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("CLEANROOM_SCREENSHOTS") or tmp_path_factory.getbasetemp() / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def screenshot(screenshot_dir: Path) -> Callable[[Page, str], Path]:
    def take(page: Page, name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
