"""The streaming web page (examples/web_stream.py) in a real browser: the answer streams in with
its citations linked to the sources, a broken stream keeps the partial answer and says so, Cancel
stops the answer upstream, and a hostile document stays text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser import QUESTION
from tests.fake_anthropic import Block, Cite, FakeAnthropic, Reply

# Each change to the answer, as the reader saw it (a MutationObserver's records, in order).
WATCH_ANSWER = """() => {
  window.answerStates = [];
  const answer = document.getElementById("answer");
  new MutationObserver(() => window.answerStates.push(answer.textContent))
    .observe(answer, {childList: true, subtree: true});
}"""


def ask(page: Page, url: str, question: str = QUESTION) -> None:
    page.goto(url)
    page.evaluate(WATCH_ANSWER)
    box = page.get_by_label("Question")
    box.fill("")
    box.press_sequentially(question)  # typed, key by key
    box.press("Enter")


def test_the_answer_streams_in_and_a_citation_leads_to_its_source(
    page: Page, web_page: str, screenshots: Callable[[Page, str], Path]
) -> None:
    ask(page, web_page)

    expect(page.locator("#status")).to_contain_text("Answered by offline extractive")
    states: list[str] = page.evaluate("window.answerStates")
    assert len(set(states)) >= 2, states  # more than one update: it streamed in
    assert states[-1].startswith(states[0]) and len(states[-1]) > len(states[0])
    answer = page.locator("#answer")
    expect(answer).to_contain_text("bottom-up implementation, top-down design and holistic")
    screenshots(page, "browser-web-page")

    citation = answer.get_by_role("link", name="[1]").first
    citation.click()
    assert page.url.endswith("#source-1")
    source = page.locator("#source-1")
    expect(source).to_have_css("outline-style", "solid")  # :target, highlighted
    expect(source).to_be_in_viewport()
    expect(source.locator(".path")).to_have_text("trimodal.md")
    expect(source.locator(".heading")).to_have_text("› Trimodal methodology")
    expect(source.locator(".cited")).to_contain_text("combines three modes of work")


def test_a_dropped_stream_keeps_the_partial_answer_and_shows_the_error(
    page: Page,
    claude_web_page: str,
    fake_claude: FakeAnthropic,
    screenshots: Callable[[Page, str], Path],
) -> None:
    cited = Block(["The trimodal methodology ", "combines three"], [Cite(0, "three modes")])
    fake_claude.script(Reply(blocks=(cited,), fault="drop"))
    ask(page, claude_web_page)

    error = page.get_by_role("alert")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Failed: The connection dropped mid-answer.")
    expect(page.locator("#answer")).to_have_text("The trimodal methodology combines three [1]")
    expect(page.locator("#status")).to_contain_text("what arrived is kept")
    expect(page.locator("#source-1 .cited")).to_have_text("three modes")
    expect(page.get_by_role("button", name="Ask")).to_be_enabled()
    screenshots(page, "browser-web-page-dropped")


def test_cancel_keeps_the_partial_answer_and_stops_the_answer_upstream(
    page: Page, claude_web_page: str, fake_claude: FakeAnthropic
) -> None:
    fake_claude.client_gone.clear()
    fake_claude.released.clear()
    fake_claude.script(Reply.text("Bottom-up implementation ", "comes first", fault="stall"))
    ask(page, claude_web_page)
    expect(page.locator("#answer")).to_have_text("Bottom-up implementation comes first")

    page.get_by_role("button", name="Cancel").click()

    expect(page.locator("#status")).to_have_text("Cancelled; the partial answer is kept above.")
    assert fake_claude.client_gone.wait(10), "the model's stream was not closed"
    expect(page.locator("#answer")).to_have_text("Bottom-up implementation comes first")
    expect(page.get_by_role("alert")).to_be_hidden()


def test_a_hostile_document_stays_text_in_the_page(page: Page, web_page: str) -> None:
    ask(page, web_page, "When does the zeppelin hangar door open?")

    expect(page.locator("#status")).to_contain_text("Answered by")
    expect(page.locator("#answer")).to_contain_text("<script>window.pwned=2</script>")
    # the heading's inline HTML is markup a reader never sees: the title is its words
    expect(page.locator("#sources")).to_contain_text("hangar.md › Zeppelin hangar")
    expect(page.locator("#sources")).to_contain_text("<script>window.pwned=2</script>")
    assert page.evaluate("window.pwned") is None
    for tag in ("img", "script", "a[href^='javascript']"):
        assert page.locator(f"#answer {tag}, #sources {tag}").count() == 0, tag


def test_an_empty_question_is_not_sent(page: Page, web_page: str) -> None:
    page.goto(web_page)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.get_by_label("Question").fill("   ")
    page.get_by_role("button", name="Ask").click()
    expect(page.locator("#status")).to_have_text("Type a question first.")
    assert not [url for url in requests if "/ask" in url]
