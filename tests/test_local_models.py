"""Local models through an Anthropic-compatible server (issue 13), end to end over the real index:
the query client, `atlas-tui ask` and `atlas-tui models` in a subprocess, against a fake server
that speaks the Messages API the way Ollama's compatibility layer does."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from atlas_tui import Delta, Done, Retrieved, create_query_client
from atlas_tui.query import AtlasQuery
from tests.cli_run import atlas
from tests.fake_anthropic import Block, Cite, FakeAnthropic, Reply, closed_port_url
from tests.fake_ollama import FakeOllama

QUESTION = "What is the trimodal methodology in Atlas?"
QUOTE = "bottom-up implementation"  # words of trimodal.md, document [1] for QUESTION


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


def endpoint_config(path: Path, base_url: str, name: str = "ollama", **extra: str) -> str:
    lines = [
        f"[endpoints.{name}]",
        f'base_url = "{base_url}"',
        'models = ["qwen3", "llama3.2"]',
        'label = "Ollama"',
        *(f'{key} = "{value}"' for key, value in extra.items()),
    ]
    before = path.read_text() if path.exists() else ""
    path.write_text(before + "\n".join(lines) + "\n\n")
    return str(path)


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Point $ATLAS_CONFIG at a file naming endpoints; returns (name, base_url) -> path."""
    path = tmp_path / "endpoints.toml"
    monkeypatch.setenv("ATLAS_CONFIG", str(path))

    def add(base_url: str, name: str = "ollama", **extra: str) -> str:
        return endpoint_config(path, base_url, name, **extra)

    return add


def events_of(client: AtlasQuery, **knobs) -> tuple[list[Delta], Done, tuple]:
    events = list(client.events(QUESTION, **knobs))
    assert isinstance(events[0], Retrieved) and isinstance(events[-1], Done), events[-1]
    return [e for e in events if isinstance(e, Delta)], events[-1], events[0].documents


def test_a_local_endpoint_answers_before_the_offline_answerer_with_checked_citations(
    research_index: str, fake_ollama: FakeOllama, configured
) -> None:
    configured(fake_ollama.base_url)
    fake_ollama.script(Reply.text(f'It combines "{QUOTE[:9]}', f'{QUOTE[9:]}" [', "1] and [7]."))
    client = create_query_client(db_path=research_index)
    assert client.label_for() == "local qwen3 via Ollama" and not client.extractive

    _, done, documents = events_of(client)

    assert QUOTE in documents[0].text
    assert (done.answerer, done.model) == ("local qwen3 via Ollama", "qwen3")
    assert not done.extractive
    assert [(c.number, c.valid) for c in done.citations] == [(1, True), (7, False)]
    assert done.answer.startswith(f'It combines "{QUOTE}" [1] and [7?].')
    assert "1 of 2 citations verified" in done.answer
    assert done.cost_usd is None  # a local model has no price
    assert fake_ollama.last_body["model"] == "qwen3"


def test_a_down_local_server_says_so_and_gives_the_offline_answer_labelled(
    research_index: str, configured
) -> None:
    down = closed_port_url()
    configured(down)
    client = create_query_client(db_path=research_index)

    deltas, done, _ = events_of(client)

    assert deltas[0].text.startswith("*Ollama is not answering (Could not connect to")
    assert "offline answer instead" in deltas[0].text
    assert done.answerer == "offline extractive" and done.extractive and done.model == ""
    assert "_Offline extractive answer" in done.answer and "[1]" in done.answer
    assert all(c.valid for c in done.citations) and done.citations


def test_provider_name_and_model_name_pick_the_endpoint_over_claude(
    research_index: str,
    fake_ollama: FakeOllama,
    fake_anthropic: FakeAnthropic,
    configured,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configured(fake_ollama.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_anthropic.base_url)
    fake_ollama.script(Reply.text("Local [1]."))
    client = create_query_client(
        db_path=research_index, provider_name="ollama", model_name="llama3.2"
    )
    _, done, _ = events_of(client)
    assert done.answerer == "local llama3.2 via Ollama"
    assert fake_ollama.last_body["model"] == "llama3.2" and not fake_anthropic.requests


def test_with_a_claude_key_a_sessions_endpoint_model_goes_to_the_endpoint(
    research_index: str,
    fake_ollama: FakeOllama,
    fake_anthropic: FakeAnthropic,
    configured,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configured(fake_ollama.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_anthropic.base_url)
    fake_anthropic.script(Reply(blocks=(Block(["Claude says so."], [Cite(0, QUOTE)]),)))
    fake_ollama.script(Reply.text("Llama says so [1]."))
    client = create_query_client(db_path=research_index, max_retries=0)

    _, claude_done, _ = events_of(client)
    _, local_done, _ = events_of(client, model="llama3.2")

    assert claude_done.answerer.startswith("Claude ") and claude_done.citations[0].valid
    assert local_done.answerer == "local llama3.2 via Ollama"
    assert "search_result" in json.dumps(fake_anthropic.last_body)
    assert "search_result" not in json.dumps(fake_ollama.last_body)
    local_request = fake_ollama.requests[-1]
    assert "x-api-key" not in local_request.headers  # Claude's key never goes to an endpoint
    assert "authorization" not in local_request.headers
    claude_headers = fake_anthropic.requests[-1].headers
    assert "sk-test" in claude_headers.get("x-api-key", "") + claude_headers.get(
        "authorization", ""
    )


def test_ollama_as_its_docs_set_it_up_through_anthropic_base_url(
    research_index: str, fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ollama's documentation: ANTHROPIC_AUTH_TOKEN=ollama, ANTHROPIC_BASE_URL=its address
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "ollama")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_ollama.base_url)
    monkeypatch.setenv("ATLAS_DEFAULT_MODEL", "qwen3")
    fake_ollama.script(Reply.text(f'Atlas joins "{QUOTE}" [1].'), Reply.text("Again [1]."))
    client = create_query_client(db_path=research_index, max_retries=0)
    host = fake_ollama.base_url.removeprefix("http://")

    _, done, _ = events_of(client)
    _, again, _ = events_of(client)

    assert done.answerer == f"local qwen3 via {host}" == client.label_for()
    assert [(c.number, c.valid) for c in done.citations] == [(1, True)]
    refused, retried, second = fake_ollama.requests  # the 400, then compatible from then on
    assert "search_result" in json.dumps(refused.body)
    assert "search_result" not in json.dumps(retried.body) + json.dumps(second.body)
    assert {r.headers["authorization"] for r in fake_ollama.requests} == {"Bearer ollama"}
    assert "1 of 1 citation verified" in again.answer


# --- the real CLI ---------------------------------------------------------------------------


def test_cli_ask_through_a_local_endpoint_marks_unverified_citations(
    env: dict[str, str],
    fake_ollama: FakeOllama,
    tmp_path: Path,
) -> None:
    env["ATLAS_CONFIG"] = endpoint_config(tmp_path / "c.toml", fake_ollama.base_url)
    fake_ollama.script(Reply.text(f'It is "{QUOTE}" [1], "invented words" [1] and more [9].'))
    result = atlas("ask", QUESTION, env=env)
    assert result.returncode == 0, result.stderr
    answer, _, sources = result.stdout.partition("Sources:")
    assert f'"{QUOTE}" [1], "invented words" [1?] and more [9?].' in answer
    assert "1 of 3 citations verified" in answer
    assert "[1?]: the quote is not in document 1; [9?]: no such document" in answer
    assert "[1] trimodal.md" in sources


def test_cli_ask_with_the_local_server_down_answers_offline(
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    env["ATLAS_CONFIG"] = endpoint_config(tmp_path / "c.toml", closed_port_url())
    result = atlas("ask", QUESTION, "--json", "--no-save", env=env)
    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout.splitlines()[-1])
    assert done["event"] == "done" and done["answerer"] == "offline extractive"
    assert done["answer"].startswith("*Ollama is not answering")


def test_cli_models_lists_each_endpoint_with_what_its_server_offers(
    env: dict[str, str],
    fake_ollama: FakeOllama,
    fake_anthropic: FakeAnthropic,
    tmp_path: Path,
) -> None:
    fake_ollama.models = ["qwen3", "gemma3:4b", "evil\x1b]52;c;aGk=\x07name"]
    path = tmp_path / "c.toml"
    endpoint_config(path, fake_ollama.base_url)
    endpoint_config(path, fake_anthropic.base_url, name="gateway")  # no /v1/models there
    env["ATLAS_CONFIG"] = endpoint_config(path, closed_port_url(), name="laptop")

    result = atlas("models", env=env)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "\x1b" not in out and "\x07" not in out
    blocks = dict(re.findall(r"(?m)^(\w+)  (.*\n(?:  .*\n)*)", out))
    assert set(blocks) == {"ollama", "gateway", "laptop"}
    assert "(compatible profile)" in blocks["ollama"]
    assert "configured:   qwen3*, llama3.2" in blocks["ollama"]  # * answers by default
    assert "server lists: qwen3*, gemma3:4b, evil" in blocks["ollama"]
    assert "the server has no /v1/models" in blocks["gateway"]
    assert "not reachable" in blocks["laptop"] and "Connection refused" in blocks["laptop"]

    listed = json.loads(atlas("models", "--json", "--no-servers", env=env).stdout)
    assert [(e["name"], e["served"]) for e in listed] == [
        ("ollama", None),
        ("gateway", None),
        ("laptop", None),
    ]
    assert len(fake_ollama.requests) == 1  # --no-servers asked nobody


def test_cli_models_without_anything_configured_says_how(env: dict[str, str]) -> None:
    result = atlas("models", env=env)
    assert result.returncode == 0 and "offline extractive" in result.stdout
    assert "[endpoints.NAME]" in result.stdout


def test_model_offers_list_claudes_models_from_its_server_too(
    fake_anthropic: FakeAnthropic, fake_ollama: FakeOllama, configured, monkeypatch
) -> None:
    configured(fake_ollama.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_anthropic.base_url)
    fake_anthropic.models = ["claude-sonnet-5-5", "claude-haiku-5-5"]
    claude, ollama = create_query_client().model_offers()
    assert (claude.name, claude.default, claude.served) == (
        "claude",
        "claude-sonnet-5-5",
        ("claude-sonnet-5-5", "claude-haiku-5-5"),
    )
    assert (ollama.default, ollama.served, ollama.problem) == (
        "",
        None,
        "the server has no /v1/models",
    )
    assert fake_anthropic.requests[-1].path.startswith("/v1/models")


class _Broken(BaseHTTPRequestHandler):
    """/html/v1/models: a login page (200, HTML); /json/v1/models: JSON cut short (200)."""

    def do_GET(self) -> None:
        kind = self.path.split("/")[1]
        body = b"<html><body>Sign in</body></html>" if kind == "html" else b'{"data": [{"id": '
        self.send_response(200)
        self.send_header("content-type", "text/html" if kind == "html" else "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def broken_models_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Broken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_cli_models_survives_a_page_or_bad_json_and_never_shows_a_urls_password(
    env: dict[str, str],
    fake_ollama: FakeOllama,
    broken_models_server: str,
    tmp_path: Path,
) -> None:
    fake_ollama.models = ["qwen3"]
    path = tmp_path / "c.toml"
    endpoint_config(path, f"{broken_models_server}/html", name="proxy")
    endpoint_config(path, f"{broken_models_server}/json", name="cut")
    secret = fake_ollama.base_url.replace("http://", "http://admin:s3cretpass@")
    env["ATLAS_CONFIG"] = endpoint_config(path, secret, name="ollama")

    result = atlas("models", env=env)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and result.stderr == ""
    blocks = dict(re.findall(r"(?m)^(\w+)  (.*\n(?:  .*\n)*)", result.stdout))
    assert set(blocks) == {"proxy", "cut", "ollama"}  # one bad server hides no other
    for name in ("proxy", "cut"):
        assert "did not answer with a list of models" in blocks[name]
    assert "server lists: qwen3" in blocks["ollama"]
    assert fake_ollama.base_url in blocks["ollama"]  # shown without the user and password
    listed = atlas("models", "--json", env=env)
    for output in (result.stdout, listed.stdout):
        assert "s3cretpass" not in output and "admin" not in output
    assert [e["base_url"] for e in json.loads(listed.stdout)][-1] == fake_ollama.base_url
