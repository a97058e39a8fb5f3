"""Session exports: Markdown read back by a real parser, JSON read back whole."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.footnote import footnote_plugin

from atlas_tui.errors import SessionStoreError
from atlas_tui.sessions import AnswerVersion, Session, SessionStore, SessionTurn
from atlas_tui.sessions.export import export_json, export_markdown, session_from_json
from atlas_tui.types import Citation, Passage, ResearchRound, ToolStep


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
    assert data["version"] == 3
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


def research_session() -> Session:
    documents = (
        passage(1, "gzip.open opens in binary mode by default.", "gzip > open"),
        passage(2, "Use mode 'rt' for text."),
        passage(3, "shutil copies file objects."),
    )
    hostile = "gzip [^1-1]: forged\n# not a heading **bold** `tick"
    rounds = (
        ResearchRound(
            1,
            (
                ToolStep("search", query=hostile, mode="hybrid", found=(1, 2), new=(1, 2)),
                ToolStep("fetch", error="there is no tool 'fetch'; use search or read"),
            ),
            note="Let me *look*.\n## forged",
        ),
        ResearchRound(2, (ToolStep("read", passage=2, before=0, after=1, found=(2, 3), new=(3,)),)),
    )
    turn = SessionTurn(
        id=1,
        session_id="5e55ea4c",
        position=1,
        question="How do I read gzip text and copy it?",
        documents=documents,
        answer="Use 'rt' [2], then copy [3].",
        citations=(Citation(2, "c2", "Use mode 'rt' for text."), Citation(3, "c3", "")),
        answerer="Claude claude-sonnet-5-5",
        status="done",
        rounds=rounds,
    )
    return Session("5e55ea4c", "Research", 1.7e9, 1.7e9 + 60, (turn,), research=True)


def test_markdown_shows_the_research_trail_with_the_passages_each_step_found() -> None:
    tokens = parse(export_markdown(research_session()))

    items = [plain(t) for t in tokens if t.type == "inline"]
    assert "Research trail (2 rounds):" in items
    assert "Round 1, the model's note: Let me *look*. ## forged" in items
    assert (
        'Round 1: searched "gzip [^1-1]: forged # not a heading **bold** `tick" (hybrid) -> '
        "2 passages, 2 new"
    ) in items
    assert "Round 1: fetch refused: there is no tool 'fetch'; use search or read" in items
    assert "Round 2: read around [2] (0 before, 1 after) -> 2 passages, 1 new" in items
    assert "[1] Doc 1 /home/me/kb/notes/doc1.md › gzip > open" in items
    assert "[3] Doc 3 /home/me/kb/notes/doc3.md" in items
    # nothing the model wrote became structure: one heading, and only our footnotes
    assert headings(tokens, "h2") == ["1. How do I read gzip text and copy it?"]
    assert set(footnotes(tokens)) == {"1-2", "1-3"}
    assert "Use 'rt' [^1-2], then copy [^1-3]." in items


def test_json_keeps_the_rounds_and_the_research_toggle() -> None:
    session = research_session()
    data = json.loads(export_json(session))
    assert data["version"] == 3 and data["session"]["research"] is True
    (turn,) = data["session"]["turns"]
    assert [r["number"] for r in turn["rounds"]] == [1, 2]
    assert turn["rounds"][1]["steps"][0]["new"] == [3]
    assert session_from_json(export_json(session)) == session


def test_a_version_2_export_still_reads_back() -> None:
    data = json.loads(export_json(regenerated_session()))
    data["version"] = 2
    del data["session"]["research"]
    for turn in data["session"]["turns"]:
        del turn["rounds"]
        for alternative in turn["alternatives"]:
            del alternative["rounds"]
    assert session_from_json(json.dumps(data)) == regenerated_session()


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


def whole_session() -> Session:
    """Every part of a Markdown export at once: the session's settings, an answer regenerated
    (the turn damaged, its earlier version researched, its answerer unnamed), a citation to no
    passage, an answer fenced with tildes citing sources it does not mark, a failure without its
    reason."""
    plain, hostile, failed = sample_session().turns
    earlier = AnswerVersion(
        answer="Vectors live in LanceDB [1, 3].",
        documents=plain.documents,
        timings={"total_ms": 1051},  # 1.1 s, rounded from 1.051
        usage={"input_tokens": 1200, "output_tokens": 80, "cost_usd": 0.0032},
        rounds=(
            ResearchRound(
                1,
                (ToolStep("search", "LanceDB", "hybrid", found=(1, 3), new=(1, 3)),),
                note="Look *here*",
            ),
        ),
    )
    plain = replace(
        plain,
        citations=(*plain.citations, Citation(2, "c2", ""), Citation(9, "c9", "no passage")),
        alternatives=(earlier,),
        damaged="answerer should be str, got int",  # its earlier answer is readable
    )
    fences = SessionTurn(
        id=4,
        session_id="ab12cd34",
        position=4,
        question="Fences — tildes?",
        documents=(
            passage(1, "Tildes fence code too."),
            passage(2, "A cited passage.\n\nIts second paragraph."),
            passage(3, "Another cited passage."),
        ),
        answer="~~~\n```\n~~~\nAfter the fence [1], not [12].\n  [^9]: forged [^9] too",
        citations=(Citation(2, "c2", ""), Citation(3, "c3", "")),
        answerer="offline extractive",
        status="done",
    )
    return replace(
        sample_session(),
        turns=(plain, hostile, replace(failed, error=""), fences),
        model="`odd` model",
        temperature=0.2,
        max_tokens=1500,
        system_prompt="Answer in ``` one line.\n\nCite.",
    )


WHOLE_SESSION_MARKDOWN = """\
# Vectors & \\<storage\\>

Session `ab12cd34` · started {started} · 4 questions

Model: `` `odd` model ``

Answers: temperature 0.2 · up to 1,500 tokens

System prompt for this session:

````text
Answer in ``` one line.

Cite.
````

## 1. Where does Atlas keep its vectors?

Atlas keeps vectors in LanceDB [^1-1]. The folder is configurable [^1-3].

Sources: [^1-2]

*Unreadable: part of this turn is damaged (answerer should be str, got int) · answer 2 of \
2, the newest; earlier ones follow as alternatives*

[^1-1]: **Doc 1** `/home/me/kb/notes/doc1.md` › Storage \\> Tables (lines 1–5)

    ```text
    keeps vectors in LanceDB
    ```

[^1-3]: **Doc 3** ``/home/me/kb/docs/a `weird` name.md`` › Setup (page 7, lines 3–7)

    ```text
    The index lives under the data dir.
    ```

[^1-2]: **Doc 2** `/home/me/kb/notes/doc2.md` (lines 2–6)

    ```text
    Nothing relevant here.
    ```

### Alternative answer 1 of 2 (regenerated since)

Research trail (1 round):

- Round 1, the model's note: Look \\*here\\*
- Round 1: searched "LanceDB" (hybrid) -\\> 2 passages, 2 new
  - \\[1\\] **Doc 1** `/home/me/kb/notes/doc1.md` › Storage \\> Tables
  - \\[3\\] **Doc 3** ``/home/me/kb/docs/a `weird` name.md`` › Setup

Vectors live in LanceDB [^1a1-1][^1a1-3].

*Answered in 1.1 s · 1,200 in · 80 out · $0.0032*

[^1a1-1]: **Doc 1** `/home/me/kb/notes/doc1.md` › Storage \\> Tables (lines 1–5)

    ```text
    Atlas keeps vectors in LanceDB tables.
    ```

[^1a1-3]: **Doc 3** ``/home/me/kb/docs/a `weird` name.md`` › Setup (page 7, lines 3–7)

    ```text
    The index lives under the data dir.
    ```

## 2. And \\*this\\*? \\# not a heading \\[^2-1\\]

Here is code:
```python
print('never closed')
[^2-1]: a forged note
```

Sources: [^2-1]

*Interrupted: the answer above is partial.*

[^2-1]: **Doc 1** `/home/me/kb/notes/doc1.md` (lines 1–5)

    ````text
    ```
    fenced in the source
    ```
    ## a heading in a doc
    ````

## 3. A question that failed

*(no answer)*

*Failed: unknown error*

## 4. Fences — tildes?

~~~
```
~~~
After the fence [^4-1], not [12].
  \\[^9]: forged [^9] too

Sources: [^4-2] [^4-3]

*Answered by offline extractive*

[^4-1]: **Doc 1** `/home/me/kb/notes/doc1.md` (lines 1–5)

    ```text
    Tildes fence code too.
    ```

[^4-2]: **Doc 2** `/home/me/kb/notes/doc2.md` (lines 2–6)

    ```text
    A cited passage.

    Its second paragraph.
    ```

[^4-3]: **Doc 3** `/home/me/kb/notes/doc3.md` (page 7, lines 3–7)

    ```text
    Another cited passage.
    ```
"""


def test_a_session_without_a_title_and_with_one_question() -> None:
    session = replace(sample_session(), title="", turns=sample_session().turns[:1], model="a `b`")
    started = datetime.fromtimestamp(1.7e9).strftime("%Y-%m-%d %H:%M")
    assert export_markdown(session).startswith(
        f"# Untitled session\n\nSession `ab12cd34` · started {started} · 1 question\n\n"
        "Model: `` a `b` ``\n\n## 1. "
    )


def test_the_whole_markdown_export_reads_as_written() -> None:
    """The exact document a reader gets: headings, notes, fences, footnote labels and spacing."""
    started = datetime.fromtimestamp(1.7e9).strftime("%Y-%m-%d %H:%M")  # the local time
    assert export_markdown(whole_session()) == WHOLE_SESSION_MARKDOWN.format(started=started)


def test_json_is_readable_as_written_and_keeps_the_sessions_own_settings() -> None:
    session = whole_session()
    text = export_json(session)
    assert text.startswith('{\n  "format": "atlas-tui.session",\n  "version": 3,\n  "session": {')
    assert '"question": "Fences — tildes?"' in text  # non-ASCII kept as written
    read = session_from_json(text)
    undamaged = tuple(replace(turn, damaged="") for turn in session.turns)  # a note not trusted
    assert read == replace(session, turns=undamaged)
    assert (read.temperature, read.max_tokens) == (0.2, 1500)


@pytest.mark.parametrize("version", [0, 4, "3"])
def test_json_of_an_unknown_version_is_refused_with_how_to_make_one(version: object) -> None:
    text = json.dumps({"format": "atlas-tui.session", "version": version, "session": {}})
    with pytest.raises(SessionStoreError) as caught:
        session_from_json(text)
    assert caught.value.message == (
        "This is not a session exported by atlas-tui: not an atlas-tui.session export, version 3"
    )
    assert caught.value.hint == "Export one with `atlas-tui export SESSION --format json`."
