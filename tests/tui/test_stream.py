"""Streaming into the transcript: deltas batched, citations linked whole, typing comes first."""

from __future__ import annotations

import threading
import time

from atlas_tui.tui.stream import DeltaBatcher
from tests.fake_anthropic import Reply
from tests.tui.helpers import QUESTION, ask, claude_app, settled, until

BOUND_S = 10.0


def wait_for(condition, bound: float = BOUND_S) -> bool:
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_a_citation_split_across_deltas_is_linked_whole() -> None:
    shown: list[str] = []
    with DeltaBatcher(shown.append, interval=0.005) as batcher:
        batcher.feed("It combines three modes [")
        assert wait_for(lambda: shown)
        time.sleep(0.05)  # ticks pass while the "[" is still open: it is held back
        batcher.feed("1")
        time.sleep(0.05)
        batcher.feed("2] of work.")
    assert "".join(shown) == "It combines three modes [12] of work."
    assert all("[" not in part or "[12]" in part for part in shown[1:])  # never cut inside


def test_typing_holds_the_streamed_text_until_typing_pauses() -> None:
    typing = threading.Event()
    typing.set()
    shown: list[str] = []
    with DeltaBatcher(shown.append, interval=0.005, typing=typing.is_set, max_hold=60) as batcher:
        batcher.feed("The first words ")  # shown at once: time to first token counts
        batcher.feed("and the rest.")
        time.sleep(0.2)  # ~40 ticks: none shows text while a key was just pressed
        assert shown == ["The first words "]
        typing.clear()
        assert wait_for(lambda: len(shown) == 2)
    assert shown == ["The first words ", "and the rest."]


def test_typing_without_pause_still_lets_the_answer_through() -> None:
    shown: list[str] = []
    with DeltaBatcher(shown.append, interval=0.005, typing=lambda: True, max_hold=0.3) as batcher:
        batcher.feed("The first words ")
        batcher.feed("and the rest.")
        started = time.monotonic()
        assert wait_for(lambda: len(shown) == 2)
        assert time.monotonic() - started >= 0.2  # held, but only as long as `max_hold`
    assert "".join(shown) == "The first words and the rest."


async def test_keys_typed_while_an_answer_streams_all_land_and_the_answer_is_whole(
    make_settings, fake_anthropic
):
    fake_anthropic.script(Reply.text("It combines ", "three modes", fault="stall"))
    app = claude_app(make_settings, fake_anthropic)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await ask(pilot, QUESTION)
        await until(pilot, fake_anthropic.stalled.is_set)
        box = app.query_one("#query")
        for word in ("and", "what", "about", "pdfs"):
            await pilot.press(*word)
            assert app.typing_now()  # the stream's next update waits for a pause in typing
        await until(pilot, lambda: "three modes" in view.answer.source)  # never starved
        fake_anthropic.release()
        await settled(pilot)
        assert app.conversation.turns[-1].answer == "It combines three modes"
        assert box.text == "andwhataboutpdfs"
        await pilot.pause(0.6)
        assert not app.typing_now()
