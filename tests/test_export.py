"""Session exports: Markdown read back by a real parser, JSON read back whole."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.footnote import footnote_plugin

from atlas_tui.errors import SessionStoreError
from atlas_tui.sessions import AnswerVersion, Session, SessionStore, SessionTurn
from atlas_tui.sessions.export import export_json, export_markdown, session_from_json
from atlas_tui.types import Citation, Passage


def passage(n: int, text: str, heading: str = "", source: str = "") -> Passage:
    return Passage(
        chunk_id=f"c{n}",
        text=text,
        source=source or f"notes/doc{n}.md",
        root="/home/me/kb",
        title=f"Doc {n}",
        heading=heading,
        score=0.8,
        line_start=n,
        line_end=n + 4,
        page=7 if n == 3 else None,
        rank=n,
    )


def sample_session() -> Session:
    plain = SessionTurn(
        id=1,
        session_id="ab12cd34",
        position=1,
        question="Where does Atlas keep its vectors?",
        documents=(
            passage(1, "Atlas keeps vectors in LanceDB tables.", "Storage > Tables"),
            passage(2, "Nothing relevant here."),
            passage(3, "The index lives under the data dir.", "Setup", "docs/a `weird` name.md"),
        ),
        answer="Atlas keeps vectors in LanceDB [1]. The folder is configurable [3].",
        citations=(Citation(1, "c1", "keeps vectors in LanceDB"), Citation(3, "c3", "")),
        answerer="offline extractive",
        timings={"total_ms": 1234.0},
        status="done",
    )
    hostile = SessionTurn(
        id=2,
        session_id="ab12cd34",
        position=2,
        question="And *this*?\n# not a heading [^2-1]",
        documents=(passage(1, "```\nfenced in the source\n```\n## a heading in a doc"),),
        answer="Here is code:\n```python\nprint('never closed')\n[^2-1]: a forged note",
        citations=(Citation(1, "c1", "```\nfenced in the source\n```\n## a heading in a doc"),),
        status="interrupted",
        error="stopped",
    )
    failed = SessionTurn(
        id=3,
        session_id="ab12cd34",
        position=3,
        question="A question that failed",
        answer="",
        status="failed",
        error="Rate limited by the API",
    )
    return Session("ab12cd34", "Vectors & <storage>", 1.7e9, 1.7e9 + 60, (plain, hostile, failed))


def parse(markdown: str) -> list[Token]:
    return MarkdownIt("commonmark").use(footnote_plugin).parse(markdown)


def plain(token: Token) -> str:
    """What a reader sees of an inline token: escapes resolved, footnote references as [^label]."""
    parts = []
    for child in token.children or []:
        if child.type == "footnote_ref":
            parts.append(f"[^{child.meta['label']}]")
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type in ("text", "text_special", "code_inline"):
            parts.append(child.content)
    return "".join(parts)


def headings(tokens: list[Token], level: str) -> list[str]:
    return [
        plain(tokens[i + 1])
        for i, token in enumerate(tokens)
        if token.type == "heading_open" and token.tag == level
    ]


def footnotes(tokens: list[Token]) -> dict[str, str]:
    """Each footnote's label and the text of everything inside it (paragraphs and fences)."""
    notes: dict[str, str] = {}
    label = None
    for token in tokens:
        if token.type == "footnote_open":
            label = token.meta["label"]
            notes[label] = ""
        elif token.type == "footnote_close":
            label = None
        elif label is not None and token.type in ("inline", "fence"):
            notes[label] += (plain(token) if token.type == "inline" else token.content) + "\n"
    return notes


def test_markdown_holds_every_question_answer_and_cited_source() -> None:
    session = sample_session()
    markdown = export_markdown(session)
    tokens = parse(markdown)

    assert headings(tokens, "h1") == ["Vectors & <storage>"]
    questions = headings(tokens, "h2")
    assert len(questions) == len(session.turns)
    notes = footnotes(tokens)
    for turn, heading in zip(session.turns, questions, strict=True):
        assert " ".join(turn.question.split()) in heading
        cited = {c.number for c in turn.citations}
        for number in cited:
            document = turn.documents[number - 1]
            note = notes[f"{turn.position}-{number}"]
            assert document.path in note
            assert document.heading in note
            texts = [c.cited_text for c in turn.citations if c.number == number and c.cited_text]
            for text in texts or [document.text]:
                assert text in note
    assert set(notes) == {"1-1", "1-3", "2-1"}  # document 2 was retrieved but not cited
    assert "page 7" in notes["1-3"]

    paragraphs = [plain(t) for t in tokens if t.type == "inline"]
    assert "Atlas keeps vectors in LanceDB [^1-1]. The folder is configurable [^1-3]." in paragraphs
    assert any("Rate limited by the API" in p for p in paragraphs)
    assert any("partial" in p for p in paragraphs)
    assert "*(no answer)*" in markdown


def test_hostile_text_cannot_break_out_of_its_turn() -> None:
    markdown = export_markdown(sample_session())
    tokens = parse(markdown)
    fences = [t.content for t in tokens if t.type == "fence"]
    assert "print('never closed')\n[^2-1]: a forged note\n" in fences  # closed before turn 3
    assert headings(tokens, "h2")[2] == "3. A question that failed"
    # the only footnote definitions are ours: the forged one stayed inside the answer's code
    notes = footnotes(tokens)
    assert set(notes) == {"1-1", "1-3", "2-1"}
    assert "\n```\nfenced in the source\n```\n## a heading in a doc\n" in notes["2-1"]


def test_a_stored_session_exports_its_interrupted_partial_answer(tmp_path: Path) -> None:
    with SessionStore(tmp_path / "s.sqlite3") as store:
        session_id = store.create_session()
        turn_id = store.begin_turn(session_id, "Half answered?")
        store.set_documents(turn_id, [passage(1, "Source text.")])
        store.update_answer(turn_id, "So far [1]")
    with SessionStore(tmp_path / "s.sqlite3") as store:
        markdown = export_markdown(store.load_session(session_id))
    notes = footnotes(parse(markdown))
    assert "So far [^1-1]" in markdown and "Interrupted" in markdown
    assert "Source text." in notes["1-1"] and "/home/me/kb/notes/doc1.md" in notes["1-1"]


def test_json_reads_back_to_the_same_session() -> None:
    session = sample_session()
    assert session_from_json(export_json(session)) == session


@pytest.mark.parametrize(
    "text", ["", "[]", '{"format": "other"}', '{"format": "atlas-tui.session"}']
)
def test_json_that_is_not_an_export_is_a_clear_error(text: str) -> None:
    with pytest.raises(SessionStoreError, match="not a session exported by atlas-tui"):
        session_from_json(text)


def regenerated_session() -> Session:
    earlier = AnswerVersion(
        answer="PDFs are skipped [1].",
        documents=(passage(1, "Old notes say PDFs are skipped."),),
        citations=(Citation(1, "c1", "PDFs are skipped"),),
        answerer="offline extractive",
    )
    turn = SessionTurn(
        id=4,
        session_id="ab12cd34",
        position=1,
        question="and what about PDFs?",
        documents=(passage(2, "PDFs are read page by page."),),
        answer="They are read page by page [1].",
        citations=(Citation(1, "c2", "read page by page"),),
        answerer="Claude claude-opus-5-5",
        status="done",
        model="claude-opus-5-5",
        usage={"input_tokens": 1200, "output_tokens": 80, "cost_usd": 0.0064},
        alternatives=(earlier,),
    )
    return Session(
        "ab12cd34",
        "PDFs",
        1.7e9,
        1.7e9,
        (turn,),
        system_prompt="Answer in French.\n```\nno escape\n```",
        model="claude-opus-5-5",
    )


def test_markdown_marks_regenerated_answers_as_alternatives_of_one_question() -> None:
    markdown = export_markdown(regenerated_session())
    tokens = parse(markdown)
    assert headings(tokens, "h2") == ["1. and what about PDFs?"]  # one question, not two
    assert headings(tokens, "h3") == ["Alternative answer 1 of 2 (regenerated since)"]
    paragraphs = [plain(t) for t in tokens if t.type == "inline"]
    assert "They are read page by page [^1-1]." in paragraphs
    assert "PDFs are skipped [^1a1-1]." in paragraphs
    notes = footnotes(tokens)
    assert "read page by page" in notes["1-1"] and "PDFs are skipped" in notes["1a1-1"]
    newest = next(p for p in paragraphs if p.startswith("Answered by Claude"))
    assert "1,200 in · 80 out · $0.0064" in newest and "answer 2 of 2" in newest
    assert "Model: claude-opus-5-5" in paragraphs
    fences = [t.content for t in tokens if t.type == "fence"]
    assert "Answer in French.\n```\nno escape\n```\n" in fences  # the prompt stays in its fence


def test_json_keeps_alternatives_model_usage_and_the_system_prompt() -> None:
    session = regenerated_session()
    data = json.loads(export_json(session))
    assert data["version"] == 2
    (turn,) = data["session"]["turns"]
    assert [a["answer"] for a in turn["alternatives"]] == ["PDFs are skipped [1]."]
    assert turn["usage"]["output_tokens"] == 80 and turn["model"] == "claude-opus-5-5"
    assert data["session"]["system_prompt"].startswith("Answer in French.")
    assert session_from_json(export_json(session)) == session


def test_a_version_1_export_still_reads_back() -> None:
    data = json.loads(export_json(sample_session()))
    data["version"] = 1
    for turn in data["session"]["turns"]:
        for key in ("alternatives", "model", "usage", "damaged"):
            del turn[key]
    del data["session"]["system_prompt"], data["session"]["model"]
    assert session_from_json(json.dumps(data)) == sample_session()


def test_a_damaged_stored_turn_exports_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with SessionStore(path) as store:
        session_id = store.create_session()
        turn_id = store.begin_turn(session_id, "Readable question?")
        store.finish_turn(turn_id, "Readable answer.", status="done")
    db = sqlite3.connect(path)
    db.execute("UPDATE turns SET documents = '{\"a\": 1}'")
    db.commit()
    db.close()
    with SessionStore(path) as store:
        session = store.load_session(session_id)
    markdown = export_markdown(session)
    assert "Readable answer." in markdown
    assert "Unreadable: part of this turn is damaged (documents: expected a list" in markdown
    assert json.loads(export_json(session))["session"]["turns"][0]["damaged"]


def test_the_cli_exports_a_damaged_turn_with_a_note_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with SessionStore(path) as store:
        session_id = store.create_session()
        turn_id = store.begin_turn(session_id, "Readable question?")
        store.finish_turn(turn_id, "Readable answer.", status="done")
    db = sqlite3.connect(path)
    db.execute("UPDATE turns SET documents = '{\"a\": 1}', citations = '[7]'")
    db.commit()
    db.close()
    env = {**os.environ, "ATLAS_SESSIONS_PATH": str(path)}
    for fmt in ("md", "json"):
        done = subprocess.run(
            [sys.executable, "-m", "atlas_tui.cli", "export", "last", "--format", fmt],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        assert "Readable answer." in done.stdout
        assert "documents: expected a list" in done.stdout


ESCAPES = {
    "osc52": "\x1b]52;c;cm0gLXJmIH4=\x07",  # sets the clipboard
    "clear": "\x1b[2J\x1b[H",  # clears the screen
    "link": "\x1b]8;;https://evil.example\x1b\\",  # a hidden link
    "c1": "\x9b31m",  # the 8-bit CSI
    "bidi": "\u202e",  # reorders what follows
}


def test_the_markdown_file_holds_no_control_sequence_but_keeps_the_text(tmp_path: Path) -> None:
    e = ESCAPES
    path = tmp_path / "s.sqlite3"
    with SessionStore(path) as store:
        session_id = store.create_session()
        turn_id = store.begin_turn(session_id, f"Which {e['clear']}door?")
        answer = (
            f"It opens {e['osc52']}at dawn {e['link']}(link text){e['link']} "
            f"{e['c1']}red{e['bidi']}txet. A family: 👨\u200d👩\u200d👧; ``{e['c1']}` ticks."
        )
        store.finish_turn(turn_id, answer, status="done")
    env = {**os.environ, "ATLAS_SESSIONS_PATH": str(path)}
    for fmt in ("md", "json"):
        out = tmp_path / f"export.{fmt}"
        done = subprocess.run(
            [sys.executable, "-m", "atlas_tui.cli", "export", "last", "--format", fmt, "-o", out],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        written = out.read_text(encoding="utf-8")
        for name, sequence in e.items():  # none of it acts on the terminal of `cat FILE`
            assert sequence not in written, (fmt, name)
        assert not any(c in written for c in "\x1b\x07\x9b\u202e"), fmt
    markdown = (tmp_path / "export.md").read_text(encoding="utf-8")
    assert "## 1. Which door?" in markdown
    assert "It opens at dawn (link text) redtxet." in markdown
    assert "👨\u200d👩\u200d👧" in markdown  # text, joiners included, stays as it was
    assert "``` ticks" in markdown  # (a run of three made by the removal: still the answer's)
    assert [t.type for t in parse(markdown)].count("fence_open") == 0
    stored = json.loads((tmp_path / "export.json").read_text(encoding="utf-8"))
    assert stored["session"]["turns"][0]["answer"] == answer  # JSON keeps it all, escaped
