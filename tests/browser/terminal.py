"""Reading the served app's screen in the page: the xterm.js terminal textual-serve draws into.

xterm.js paints on a canvas (WebGL), so the page has no text to query. An init script catches the
terminal object when textual-serve's script creates it (`this.terminal = new Terminal(...)`), and
the tests read the rows of its buffer: the characters the browser is drawing, nothing else.
"""

from __future__ import annotations

from playwright.sync_api import Page

CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  get() { return undefined; },
  set(value) {
    const own = {value, writable: true, configurable: true, enumerable: true};
    Object.defineProperty(this, "terminal", own);
    window.atlasTerminal = value;
  },
});
"""

SCREEN = """() => {
  const terminal = window.atlasTerminal;
  if (!terminal) return "";
  const buffer = terminal.buffer.active, rows = [];
  for (let y = 0; y < terminal.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
}"""

SHOWS = f"(wanted) => ({SCREEN})().includes(wanted)"


def open_app(page: Page, url: str) -> None:
    page.add_init_script(CATCH_TERMINAL)
    page.goto(url)


def screen(page: Page) -> str:
    return str(page.evaluate(SCREEN))


def wait_for_screen(page: Page, text: str, timeout_s: float = 30.0) -> str:
    """Wait until the terminal in the page shows `text`; the screen then."""
    page.wait_for_function(SHOWS, arg=text, timeout=timeout_s * 1000, polling=50)
    return screen(page)


def wait_until_gone(page: Page, text: str, timeout_s: float = 30.0) -> None:
    page.wait_for_function(f"(gone) => !({SHOWS})(gone)", arg=text, timeout=timeout_s * 1000)


def focus_terminal(page: Page) -> None:
    """Keys go to the terminal's own input, as after a click, without clicking into a widget."""
    page.focus(".xterm-helper-textarea")


def click_text(page: Page, text: str) -> None:
    """Click the middle of `text` where the terminal in the page shows it."""
    rows = screen(page).splitlines()
    row = next(y for y, line in enumerate(rows) if text in line)
    column = rows[row].index(text) + len(text) / 2
    box = page.locator(".xterm-screen").bounding_box()
    assert box is not None
    columns = int(page.evaluate("window.atlasTerminal.cols"))
    cell_width, cell_height = box["width"] / columns, box["height"] / len(rows)
    page.mouse.click(box["x"] + column * cell_width, box["y"] + (row + 0.5) * cell_height)
