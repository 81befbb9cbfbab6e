"""Every response carries the Content-Security-Policy, and the pages we serve work under it: no
inline script or style anywhere (the API docs included), so the policy never needs
'unsafe-inline'."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

pytestmark = pytest.mark.django_db

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


class _InlineCode(HTMLParser):
    """What in a page a policy without 'unsafe-inline' would block: inline <script> and <style>
    elements, `style` attributes and `on…` event-handler attributes; and the scripts it loads."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.script_sources: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.inline += [f"<{tag} {name}=…>" for name, _ in attrs if name == "style" or name.startswith("on")]
        if tag == "script" and named.get("src"):
            self.script_sources.append(str(named["src"]))
        elif tag in ("script", "style"):
            self._open = tag

    def handle_data(self, data: str) -> None:
        if self._open and data.strip():
            self.inline.append(f"<{self._open}>{data.strip()[:60]}…")

    def handle_endtag(self, tag: str) -> None:
        self._open = None


def inline_code(page: str) -> _InlineCode:
    parser = _InlineCode()
    parser.feed(page)
    return parser


def test_the_policy_allows_no_inline_script_nor_any_other_origin(client):
    policy = client.get("/")["Content-Security-Policy"]
    directives = dict(directive.split(" ", 1) for directive in policy.split("; "))

    assert directives["script-src"] == "'self'"
    assert "unsafe" not in policy and "nonce-" not in policy and "sha256-" not in policy and "*" not in policy


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/api/v1/docs/"])
def test_each_html_page_carries_the_policy_and_has_no_inline_code(client, path):
    response = client.get(path)

    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert response["Content-Security-Policy"] == POLICY
    assert inline_code(response.content.decode()).inline == []


def test_a_logged_in_page_has_no_inline_code_either(client, compliance):
    client.force_login(compliance)

    page = client.get("/").content.decode()

    assert "Log out" in page and inline_code(page).inline == []


def test_the_api_docs_load_their_scripts_from_this_server_only(client):
    page = client.get("/api/v1/docs/").content.decode()
    sources = inline_code(page).script_sources

    assert sources and all(source.startswith("/") for source in sources)
    init = [source for source in sources if "script" in source.split("?", 1)[-1]]
    assert len(init) == 1  # Swagger UI's set-up code, which drf-spectacular would inline
    response = client.get(init[0])
    assert response.status_code == 200 and response["Content-Type"].startswith("application/javascript")
    assert "/api/v1/schema/" in response.content.decode()


def test_api_answers_carry_the_policy_too(api):
    response = api.get("/api/v1/assets/")

    assert response.status_code == 401 and response["Content-Security-Policy"] == POLICY


def test_the_api_answers_a_browser_with_json_not_a_page_with_inline_script(client, compliance):
    # DRF's browsable API is an HTML page with inline script; the API's browsable face is the docs.
    client.force_login(compliance)

    response = client.get("/api/v1/audit-events/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
