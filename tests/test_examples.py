"""The examples run, keyless, against the demo index, and show what a user expects to see.

The demo corpus is ingested once per session; each example then runs as a real subprocess with
ATLAS_DB_PATH set and no API key, so the answers come from the offline extractive answerer
(except the fallback test, which points the example at the local fake Anthropic server).
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from atlas_tui import create_query_client
from atlas_tui.config import demo_corpus_path
from tests.fake_anthropic import FakeAnthropic, Reply

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TIMEOUT = 180  # seconds: each run imports torch and loads the model on a busy machine
CITATION = re.compile(r"\[\d+\]")
TRIMODAL = ("bottom-up", "top-down", "holistic")


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("demo-index") / "index"
    report = create_query_client(db_path=str(db), provider_name="extractive").ingest(
        [str(demo_corpus_path())]
    )
    assert report.ok and not report.skipped, report.skipped
    assert report.chunks_pending == 0
    return db


@pytest.fixture
def example_env(demo_db: Path, tmp_path: Path) -> dict[str, str]:
    """The environment an example runs in: the demo index, no key, nothing of the user's."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ANTHROPIC_", "ATLAS_")) and name != "SKIP_API_KEY_CHECK"
    }
    env.update(
        ATLAS_DB_PATH=str(demo_db),
        ATLAS_DATA_DIR=str(tmp_path / "data"),
        ATLAS_CONFIG=os.devnull,  # no config file (a named file that is missing is an error)
        HF_HUB_OFFLINE="1",
        LANCEDB_LOG="error",
        PYTHONUNBUFFERED="1",
    )
    return env


def run_example(name: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def assert_trimodal_answer(text: str) -> None:
    lowered = text.lower()
    assert all(mode in lowered for mode in TRIMODAL), text
    assert CITATION.search(text), text


def test_streaming_example_prints_a_cited_answer(example_env: dict[str, str]) -> None:
    result = run_example("streaming_example.py", example_env)
    assert result.returncode == 0, result.stderr
    assert_trimodal_answer(result.stdout)
    assert "Falling back" not in result.stderr


def test_streaming_example_falls_back_to_query_when_the_stream_breaks(
    example_env: dict[str, str],
) -> None:
    broken = Reply.text("The trimodal methodology ", "combines three", fault="drop")
    whole = Reply.text("It combines bottom-up implementation, ", "top-down design and more.")
    with FakeAnthropic() as server:
        server.script(broken, whole)
        example_env.update(ANTHROPIC_API_KEY="test-key", ANTHROPIC_BASE_URL=server.base_url)
        result = run_example("streaming_example.py", example_env)
    assert result.returncode == 0, result.stderr
    assert "streaming failed" in result.stderr
    assert "Falling back to query()" in result.stderr
    assert "The trimodal methodology combines three" in result.stdout  # the partial stream
    assert "It combines bottom-up implementation, top-down design and more." in result.stdout
    assert len(server.requests) == 2


def test_examples_report_a_missing_index_clearly(
    example_env: dict[str, str], tmp_path: Path
) -> None:
    example_env["ATLAS_DB_PATH"] = str(tmp_path / "no-index-here")
    result = run_example("streaming_example.py", example_env)
    assert result.returncode == 1
    assert "atlas-tui ingest" in result.stderr  # the error's hint says what to do
    assert "Traceback" not in result.stderr


def test_token_counter_answers_the_question_from_argv_and_prints_a_rate(
    example_env: dict[str, str],
) -> None:
    result = run_example("token_counter.py", example_env, "Which", "key", "opens", "help?")
    assert result.returncode == 0, result.stderr
    assert "F1" in result.stdout
    assert CITATION.search(result.stdout), result.stdout
    summary = re.search(r"~(\d+) tokens .* ([\d.]+) tokens/s", result.stdout)
    assert summary, result.stdout
    assert int(summary.group(1)) > 0
    assert float(summary.group(2)) > 0


def test_context_example_prints_sources_before_the_answer(example_env: dict[str, str]) -> None:
    result = run_example("streaming_with_context.py", example_env)
    assert result.returncode == 0, result.stderr
    sources, _, answer = result.stdout.partition("\nAnswer:")
    assert answer, result.stdout
    assert sources.startswith("Sources:")
    assert re.search(r"\[1\] trimodal-(methodology|in-practice)\.md", sources), sources
    assert_trimodal_answer(answer)


# --- the web page ---------------------------------------------------------------------------------


def pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def wait_for_address(lines: queue.Queue[str], deadline: float) -> int:
    """The port from the line where the server prints its address (other output may come first)."""
    seen: list[str] = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        seen.append(line)
        if address := re.search(r"http://127\.0\.0\.1:(\d+)/", line):
            return int(address.group(1))
    pytest.fail("the web example printed no address in time:\n" + "".join(seen))


@pytest.fixture
def web_server(example_env: dict[str, str]) -> Iterator[int]:
    """The web example on a free port; yields the port, and stops the process at the end."""
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "web_stream.py"), "0"],
        env=example_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=pump, args=(process.stdout, lines), daemon=True).start()
    try:
        yield wait_for_address(lines, time.monotonic() + TIMEOUT)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def get(port: int, path: str) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    connection.request("GET", path)
    return connection, connection.getresponse()


def read_events(response: http.client.HTTPResponse) -> Iterator[tuple[str, str]]:
    """(event name, data) pairs of a server-sent event stream, as a browser would parse them."""
    name, data = "message", []
    for raw in response:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield name, "\n".join(data)
            name, data = "message", []
        elif line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").removeprefix(" "))


def test_web_example_serves_a_page_and_streams_an_answer(web_server: int) -> None:
    connection, page = get(web_server, "/")
    body = page.read().decode()
    connection.close()
    assert page.status == 200
    assert "EventSource" in body
    assert 'value="What is the trimodal methodology in Atlas?"' in body

    connection, response = get(web_server, "/ask?q=What+is+the+trimodal+methodology+in+Atlas%3F")
    assert response.status == 200
    assert response.getheader("Content-Type", "").startswith("text/event-stream")
    names: list[str] = []
    answer = ""
    for name, data in read_events(response):
        names.append(name)
        payload = json.loads(data)
        if name == "message":
            answer += payload["text"]
        elif name == "done":
            assert payload["failed"] is False
            assert payload["extractive"] is True
            break
    connection.close()
    assert names[0] == "sources"
    assert names[-1] == "done"
    assert "failed" not in names
    assert_trimodal_answer(answer)

    connection, empty = get(web_server, "/ask?q=")
    assert empty.status == 400
    assert "/ask?q=" in empty.read().decode()
    connection.close()


# --- the Atlas documentation's own example, run as written ---------------------------------------

ORIGIN = Path(__file__).resolve().parent / "origin" / "streaming-query-example.md"
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def origin_blocks() -> list[str]:
    """The document's Python blocks, verbatim but for the import (`atlas` is `atlas_tui` here)."""
    blocks = PYTHON_BLOCK.findall(ORIGIN.read_text(encoding="utf-8"))
    ported = [b.replace("from atlas import ", "from atlas_tui import ") for b in blocks]
    assert all("from atlas import" not in b for b in ported)
    return ported


def run_origin(code: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "docs_example.py"
    script.write_text(code, encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_the_documents_complete_example_streams_an_offline_answer(
    example_env: dict[str, str], tmp_path: Path
) -> None:
    complete = next(b for b in origin_blocks() if 'if __name__ == "__main__":' in b)

    result = run_origin(complete, example_env, tmp_path)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Error in streaming" not in out and "Falling back" not in out
    streamed = out.split("Streaming Response:\n", 1)[1].split("\n\nStreaming completed", 1)[0]
    assert streamed.startswith("_Offline extractive answer (no API key configured)")
    assert_trimodal_answer(streamed)
    assert f"Streaming completed with result length: {len(streamed)}" in out
    assert out.rstrip().endswith("Test completed!")


def test_the_documents_snippets_run_in_sequence(
    example_env: dict[str, str], tmp_path: Path
) -> None:
    """Setup, the callback, the basic query, error handling, the tokens/s handler and streaming
    with context: the document's blocks before the complete example, run as one script."""
    blocks = origin_blocks()
    snippets = blocks[: next(i for i, b in enumerate(blocks) if "__main__" in b)]
    assert len(snippets) == 6, "the document's snippets changed"

    result = run_origin("\n".join(snippets), example_env, tmp_path)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Error in streaming" not in out
    assert out.count("_Offline extractive answer") == 4  # basic, error handling, handler, context
    assert "Streaming completed with result length:" in out
    assert re.search(r"Retrieved \d+ relevant documents", out)
    assert "Most relevant document: trimodal-" in out
    assert_trimodal_answer(out)
