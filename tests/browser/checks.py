"""What every browser test checks on every page it shows, and the visitor that does it.

A :class:`Visitor` is one browser context (its own cookies and session) with one page.
Each page it lands on (``goto``, ``submit``) is, before the test goes on:

* screenshotted, full page, into ``BROWSER_SCREENSHOTS`` (default
  ``<repo>/.browser-screenshots/``), ``<viewport>/<flow>-<NN>-<step>.png``;
* checked for layout breakage at the visitor's width (:data:`LAYOUT_JS`): the page does
  not scroll sideways; no visible element of the portal (``.rr-portal``) reaches past the
  viewport's edges (tables inside an ``.rr-table-wrap`` or a ``.table-scroll`` scroll on
  purpose and are left out); every visible heading and button has a size and lies
  inside the viewport;
* checked for errors (:class:`Watch`): console errors, uncaught JavaScript errors,
  failed requests and responses of 400 or more (a missing static file, a 500).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

#: Chromium asks every site for /favicon.ico; the example project has none, and that is
#: not the portal's business.
IGNORED_PATHS = {"/favicon.ico"}

LAYOUT_JS = """
() => {
  const width = window.innerWidth;
  const problems = [];
  const scrollWidth = document.documentElement.scrollWidth;
  if (scrollWidth > width) {
    problems.push(`the page scrolls sideways: scrollWidth ${scrollWidth}px > ${width}px`);
  }
  const shown = (el) => el.checkVisibility({visibilityProperty: true});
  const clipped = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const style = getComputedStyle(e);
      if (style.clip && style.clip !== "auto") return true;  // visually hidden
    }
    return false;
  };
  const describe = (el) => {
    let name = el.tagName.toLowerCase();
    if (el.id) name += "#" + el.id;
    if (el.classList.length) name += "." + Array.from(el.classList).join(".");
    const text = (el.innerText || el.value || "").trim().replace(/\\s+/g, " ").slice(0, 40);
    return text ? `${name} "${text}"` : name;
  };
  const outside = (rect) => {
    const left = rect.left + window.scrollX;
    return left < -0.5 || left + rect.width > width + 0.5;
  };
  const span = (rect) => {
    const left = Math.round(rect.left + window.scrollX);
    return `${left}..${Math.round(left + rect.width)}px`;
  };
  const root = document.querySelector(".rr-portal");
  const flagged = [];
  if (root) {
    for (const el of root.querySelectorAll("*")) {
      const wrap = el.closest(".rr-table-wrap, .table-scroll");
      if (wrap && wrap !== el) continue;
      if (flagged.some((parent) => parent.contains(el))) continue;
      if (!shown(el) || clipped(el)) continue;
      const rect = el.getBoundingClientRect();
      if (rect.width === 0 && rect.height === 0) continue;
      if (outside(rect)) {
        flagged.push(el);
        problems.push(`${describe(el)} spans ${span(rect)}, past the ${width}px viewport`);
      }
    }
  }
  const controls = [
    "h1", "h2", "h3", "h4", "h5", "h6", "button", "input[type=submit]", "input[type=button]",
    ".rr-button",
  ].join(", ");
  for (const el of document.querySelectorAll(controls)) {
    if (!shown(el) || clipped(el)) continue;
    const rect = el.getBoundingClientRect();
    if (rect.width < 1 || rect.height < 1) {
      problems.push(`${describe(el)} has no size (${rect.width}x${rect.height})`);
    } else if (!el.closest(".rr-table-wrap, .table-scroll") && outside(rect)
               && !flagged.includes(el)) {
      problems.push(`${describe(el)} spans ${span(rect)}, past the ${width}px viewport`);
    }
  }
  return problems.slice(0, 15);
}
"""


@dataclasses.dataclass(frozen=True)
class Site:
    """The served example project."""

    url: str
    seed_output: str
    log: Path


class Watch:
    """Collects what went wrong on a page: console errors, uncaught exceptions, failed
    requests, error responses."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on("console", self.console)
        page.on("pageerror", lambda error: self.problems.append(f"JavaScript error: {error}"))
        page.on("requestfailed", self.request_failed)
        page.on("response", self.response)

    @staticmethod
    def ignored(url: str) -> bool:
        return urlsplit(url).path in IGNORED_PATHS

    def console(self, message: Any) -> None:
        if message.type == "error" and not self.ignored(message.location.get("url", "")):
            self.problems.append(f"console error: {message.text} ({message.location})")

    def request_failed(self, request: Any) -> None:
        if not self.ignored(request.url):
            self.problems.append(f"request failed: {request.url}: {request.failure}")

    def response(self, response: Any) -> None:
        if response.status >= 400 and not self.ignored(response.url):
            self.problems.append(
                f"{response.request.method} {response.url} answered {response.status}"
            )

    def take(self) -> list[str]:
        problems, self.problems = self.problems, []
        return problems


class Visitor:
    """One browser context with one page; every page it lands on is checked."""

    def __init__(self, page: Any, *, site: Site, browse: Any) -> None:
        self.page = page
        self.site = site
        self.browse = browse
        self.watch = Watch(page)

    @property
    def width(self) -> int:
        return int(self.page.viewport_size["width"])

    @property
    def path(self) -> str:
        return urlsplit(self.page.url).path

    def url(self, path: str) -> str:
        return self.site.url + path

    def goto(self, path: str, step: str) -> Any:
        """Open ``path`` (it must answer 200 after any redirects) and check the page."""
        response = self.page.goto(self.url(path))
        assert response is not None, f"no response for {path}"
        assert response.status == 200, f"GET {path} answered {response.status}"
        self.look(step)
        return response

    def submit(self, control: Any, step: str) -> None:
        """Click ``control`` (a submit button or a link), wait for the page it leads to
        and check it."""
        with self.page.expect_navigation():
            control.click()
        self.look(step)

    def look(self, step: str) -> None:
        """Screenshot the page and check its layout and what it reported."""
        page = self.page
        page.wait_for_load_state("load")
        page.screenshot(path=str(self.browse.screenshot_path(step)), full_page=True)
        layout = page.evaluate(LAYOUT_JS)
        errors = self.watch.take()
        where = f"{self.path} at {self.width}px ({step})"
        assert not errors, f"{where}:\n" + "\n".join(errors)
        assert not layout, f"layout of {where}:\n" + "\n".join(layout)

    def log_in(self, username: str, password: str, *, then: str = "/portal/") -> None:
        """Log in through the example shop's log-in page and land on ``then``."""
        self.goto(f"/login/?next={then}", "log-in")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.submit(self.page.get_by_role("button", name="Log in"), f"logged-in-{username}")
        assert self.path == then, f"logging in as {username} led to {self.page.url}"
