"""What `atlas-tui models` shows of each place that answers (`offers`), in process against the
fake servers: the configured models, the default, what each server lists, why a list is missing,
and which key asks for it."""

from __future__ import annotations

import pytest

from atlas_tui.config import Settings
from atlas_tui.endpoints import Endpoint
from atlas_tui.generation.catalog import MAX_LISTED, offers
from tests.fake_anthropic import FakeAnthropic, closed_port_url
from tests.fake_ollama import FakeOllama


def ollama(base_url: str) -> Endpoint:
    return Endpoint("ollama", base_url, ("qwen3", "llama3.2"), api_key_env="ATLAS_TEST_OLLAMA_KEY")


@pytest.fixture
def both(
    fake_anthropic: FakeAnthropic, fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("ATLAS_TEST_OLLAMA_KEY", "ollama-key")
    fake_anthropic.models = ["claude-b", "claude-c"]
    fake_ollama.models = ["qwen3", "gemma3"]
    return Settings(
        api_key="sk-claude",
        auth_token="claude-token",
        base_url=fake_anthropic.base_url,
        models=("claude-a", "claude-b"),
        model="claude-b",
        max_retries=0,
        endpoints=(ollama(fake_ollama.base_url),),
    )


def test_each_place_is_listed_whole_with_what_its_server_offers(
    both: Settings, fake_anthropic: FakeAnthropic, fake_ollama: FakeOllama
) -> None:
    assert [offer.to_dict() for offer in offers(both)] == [
        {
            "name": "claude",
            "base_url": fake_anthropic.base_url,
            "profile": "anthropic",
            "configured": ["claude-a", "claude-b"],  # the default model once
            "default": "claude-b",
            "served": ["claude-b", "claude-c"],
            "problem": "",
        },
        {
            "name": "ollama",
            "base_url": fake_ollama.base_url,
            "profile": "compatible",
            "configured": ["qwen3", "llama3.2"],
            "default": "",  # Claude answers when no model is chosen
            "served": ["qwen3", "gemma3"],
            "problem": "",
        },
    ]
    # each server is asked with its own key, never with Claude's credentials, and waited for
    # 5 s at most (a listing never hangs on a slow server)
    (asked,) = fake_ollama.requests
    headers = {name.lower(): value for name, value in asked.headers.items()}
    assert asked.path == "/v1/models?limit=100"  # the largest page: fewest round trips
    assert headers["authorization"] == "Bearer ollama-key" and "x-api-key" not in headers
    assert "sk-claude" not in str(headers) and "claude-token" not in str(headers)
    assert headers["x-stainless-read-timeout"] == "5.0"


def test_without_asking_the_servers_nothing_is_sent_and_nothing_is_missing(
    both: Settings, fake_anthropic: FakeAnthropic, fake_ollama: FakeOllama
) -> None:
    listed = offers(both, ask_servers=False)
    assert [(o.name, o.served, o.problem) for o in listed] == [
        ("claude", None, ""),
        ("ollama", None, ""),
    ]
    assert fake_anthropic.requests == [] and fake_ollama.requests == []
    assert [o.to_dict()["served"] for o in listed] == [None, None]  # JSON null: not asked


def test_an_endpoint_without_a_key_is_never_sent_anthropics(
    fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-from-the-environment")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "token-from-the-environment")
    fake_ollama.models = ["qwen3"]
    keyless = Endpoint("ollama", fake_ollama.base_url, ("qwen3",))
    (offer,) = offers(Settings(endpoints=(keyless,)))
    assert offer.served == ("qwen3",)
    (asked,) = fake_ollama.requests
    assert "from-the-environment" not in str(asked.headers)
    assert "authorization" not in {name.lower() for name in asked.headers}


def test_the_default_is_shown_where_it_answers(fake_ollama: FakeOllama) -> None:
    endpoint = ollama(fake_ollama.base_url)
    chosen = Settings(api_key="k", provider="ollama", model="llama3.2", endpoints=(endpoint,))
    claude, local = offers(chosen, ask_servers=False)
    assert (claude.default, local.default) == ("", "llama3.2")
    (alone,) = offers(Settings(model="llama3.2", endpoints=(endpoint,)), ask_servers=False)
    assert alone.default == "llama3.2"  # no Claude key: the first endpoint answers


def test_a_long_list_is_cut_and_a_missing_one_says_why(
    fake_ollama: FakeOllama, fake_anthropic: FakeAnthropic
) -> None:
    fake_ollama.models = [f"model-{n}" for n in range(MAX_LISTED + 1)]
    servers = (
        ollama(fake_ollama.base_url),
        Endpoint("laptop", closed_port_url(), ("qwen3",)),
        Endpoint("gateway", fake_anthropic.base_url, ("qwen3",)),  # no /v1/models route
    )
    listed, laptop, gateway = offers(Settings(endpoints=servers), ask_servers=True)
    assert listed.served == tuple(f"model-{n}" for n in range(MAX_LISTED))
    assert laptop.served is None
    assert laptop.problem == "not reachable: [Errno 111] Connection refused"
    assert (gateway.served, gateway.problem) == (None, "the server has no /v1/models")
