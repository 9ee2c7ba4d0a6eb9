"""A real browser and a real server for the web UI's tests.

* :func:`launch`: Debian's Chromium (``/usr/bin/chromium``, installed by ``make browser``)
  driven by Playwright with ``executable_path``: Playwright downloads no browser.
* :class:`UI`: a ``ferroflow server start --auth`` process on an SQLite database of its
  own, with one API key per role (``keys``), an API client per role (``client(role)``)
  and :meth:`UI.login` to open a page logged in with a role's key.
* :func:`shoot`: a screenshot of a page into the screenshots folder
  (``FERROFLOW_SCREENSHOTS``, default ``build/screenshots/`` at the checkout's root;
  ``build/`` is not committed).
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

from ferroflow.client.http import Client
from ferroflow.store.database import make_engine
from ferroflow.store.keys import create_key
from ferroflow.store.migrations import migrate
from tests.support.servers import PACKAGE_ROOT, Server
from tests.support.workers import FAST

#: Where Debian's chromium package puts the browser.
CHROMIUM = os.environ.get("FERROFLOW_CHROMIUM", "/usr/bin/chromium")
#: Where screenshots go.
SCREENSHOTS = Path(os.environ.get("FERROFLOW_SCREENSHOTS", PACKAGE_ROOT.parent / "build" / "screenshots"))
ROLES = ("read", "run", "admin")


def launch(playwright):
    """Chromium, headless. It is an error, not a skip, when it is missing: the suite's
    browser tests must run (``make browser`` installs it)."""
    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"no Chromium at {CHROMIUM}: run `make browser` (apt-get install chromium) or set "
                           f"FERROFLOW_CHROMIUM to a Chromium binary")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])


class UI:
    """A server with authentication on, on a fresh SQLite database in ``folder``."""

    def __init__(self, folder: Path, database_url: str | None = None, args: tuple = (), env: dict | None = None):
        self.folder = folder
        self.database_url = database_url or f"sqlite:///{folder / 'ui.db'}"
        self.engine = make_engine(self.database_url)
        migrate(self.engine)
        self.keys: dict[str, str] = {}
        with self.engine.begin() as conn:
            for role in ROLES:
                self.keys[role] = create_key(conn, f"{role} key", role)[0]
        self.server = Server(self.database_url, folder / "server.log", args=("--auth", *args),
                             env={**FAST, **(env or {})})

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> UI:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.kill()
        self.engine.dispose()

    def client(self, role: str = "admin") -> Client:
        """An API client of the server with the key of ``role``."""
        return Client(self.url, api_key=self.keys[role])

    def login(self, browser, role: str = "admin", path: str = "/"):
        """A new page (in a context of its own) logged in with ``role``'s key, at ``path``."""
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(60_000)  # (a loaded machine: waits, never wall-clock assertions)
        page = context.new_page()
        page.goto(self.url + "/login?" + urllib.parse.urlencode({"next": path}))
        page.fill("#key", self.keys[role])
        page.click("form[action='/login'] button[type=submit]")
        try:
            page.wait_for_url(self.url + path, timeout=90_000)
        except Exception as exc:  # (say where the browser was, and what the server said)
            raise AssertionError(f"login as {role} did not reach {path}: the page is at {page.url}\n"
                                 f"{page.content()[:2000]}\n--- server log ---\n{self.server.log()}") from exc
        return page


def shoot(page, name: str) -> Path:
    """Save a full-page screenshot of ``page`` as ``NAME.png``; its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
