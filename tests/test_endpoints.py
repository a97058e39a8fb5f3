"""Named endpoints in the config file: parsed and checked at the edge, and routing a question's
model to the endpoint that serves it (else Claude, else the offline answerer)."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlas_tui.config import load_settings
from atlas_tui.endpoints import Endpoint, describe_url, is_anthropic_url, without_credentials
from atlas_tui.errors import ConfigError

OLLAMA = """
[endpoints.ollama]
base_url = "http://localhost:11434/"
models = ["qwen3", "llama3.2"]
api_key_env = "ATLAS_TEST_OLLAMA_KEY"
label = "Ollama"

[endpoints.team]
base_url = "https://llm.example.org"
models = ["mistral-small", "qwen3"]
profile = "anthropic"
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "config.toml"
    monkeypatch.setenv("ATLAS_CONFIG", str(path))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)

    def write(text: str) -> Path:
        path.write_text(text, encoding="utf-8")
        return path

    return write


def test_endpoints_are_read_in_order_with_their_profile_and_key(
    config, monkeypatch: pytest.MonkeyPatch
) -> None:
    config(OLLAMA)
    monkeypatch.setenv("ATLAS_TEST_OLLAMA_KEY", "sekrit")
    ollama, team = load_settings().endpoints
    assert (ollama.name, ollama.base_url, ollama.models) == (
        "ollama",
        "http://localhost:11434",
        ("qwen3", "llama3.2"),
    )
    assert ollama.resolved_profile == "compatible"  # auto, and not Anthropic's API
    assert ollama.api_key() == "sekrit"
    assert ollama.describe("qwen3") == "local qwen3 via Ollama"
    assert team.resolved_profile == "anthropic"  # configured
    assert team.describe("mistral-small") == "mistral-small via team"  # not local, no label
    assert team.api_key() == ""


def test_without_a_key_the_first_endpoint_answers_before_the_offline_answerer(config) -> None:
    config(OLLAMA)
    settings = load_settings()
    assert not settings.answers_offline
    endpoint, model = settings.route()
    assert (endpoint.name if endpoint else None, model) == ("ollama", "qwen3")
    # a model another endpoint lists goes there; one nobody lists goes to the default endpoint
    assert settings.route("mistral-small")[0].name == "team"
    assert settings.route("qwen3")[0].name == "ollama"  # the first that lists it
    assert settings.route("claude-opus-5-5") == (settings.default_endpoint, "qwen3")


def test_with_a_claude_key_claude_stays_the_default_and_endpoint_models_are_offered(
    config, monkeypatch: pytest.MonkeyPatch
) -> None:
    config(OLLAMA)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    settings = load_settings()
    assert settings.route() == (None, settings.model)
    assert settings.route("claude-opus-5-5") == (None, "claude-opus-5-5")
    assert settings.route("llama3.2")[0].name == "ollama"
    choices = dict(settings.model_choices())
    assert choices["llama3.2"] == "local llama3.2 via Ollama"
    assert choices["claude-opus-5-5"] == "Claude claude-opus-5-5"


def test_provider_names_an_endpoint_and_a_model_it_does_not_list(config) -> None:
    config(OLLAMA)
    settings = load_settings(provider="team", model="gpt-oss:20b")
    assert settings.route() == (settings.endpoint_named("team"), "gpt-oss:20b")
    assert load_settings(provider="team").route()[1] == "mistral-small"  # its first model
    assert load_settings(provider="extractive").answers_offline
    with pytest.raises(ConfigError, match=r"Unknown provider .olama.; .*\(ollama, team\)"):
        load_settings(provider="olama")


def test_no_endpoints_keeps_the_offline_default(config) -> None:
    config("[endpoints]\n")  # an empty table: none
    settings = load_settings()
    assert settings.endpoints == ()
    assert settings.answers_offline
    assert settings.route() == (None, settings.model)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[endpoints.x]\nmodels = ["m"]',
            "Endpoint 'x' in the config file: base_url must be an http:// or https:// URL, "
            "not None.",
        ),
        ('[endpoints.x]\nbase_url = "ftp://h"\nmodels = ["m"]', "base_url must be"),
        (
            '[endpoints.x]\nbase_url = 11434\nmodels = ["m"]',  # a port written as the URL
            "Endpoint 'x' in the config file: base_url must be an http:// or https:// URL, "
            "not 11434.",
        ),
        (
            '[endpoints.x]\nbase_url = "http://h"',
            "Endpoint 'x' in the config file: models must be a non-empty list of model names, "
            "not None.",
        ),
        ('[endpoints.x]\nbase_url = "http://h"\nmodels = [" "]', "models must be a non-empty"),
        (
            '[endpoints.x]\nbase_url = "http://h"\nmodels = ["m"]\nprofile = "openai"',
            "Endpoint 'x' in the config file: profile must be one of auto, anthropic, compatible, "
            "not 'openai'.",
        ),
        (
            '[endpoints.x]\nbase_url = "http://h"\nmodels = ["m"]\nkey = "k"',
            "Endpoint 'x' in the config file: unknown key 'key'; known: api_key_env, base_url, "
            "label, models, profile.",
        ),
        (
            '[endpoints.x]\nbase_url = "http://h"\nmodels = ["m"]\nlabel = 3',
            "Endpoint 'x' in the config file: label must be a string, not 3.",
        ),
        (
            '[endpoints.anthropic]\nbase_url = "http://h"\nmodels = ["m"]',
            "Endpoint name 'anthropic' is not allowed: use letters, digits, '-', '_' or '.', and "
            "none of auto, anthropic, extractive.",
        ),
        ('[endpoints."a b"]\nbase_url = "http://h"\nmodels = ["m"]', "is not allowed"),
        ("endpoints = 3", "must be a table of"),
        (
            "[endpoints]\nx = 3",
            "Endpoint 'x' in the config file: must be a table ([endpoints.NAME]) with base_url "
            "and models.",
        ),
    ],
)
def test_a_bad_endpoint_is_one_clear_error(config, table: str, message: str) -> None:
    config(table)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("base_url", "model", "said"),
    [
        ("", "claude-sonnet-5-5", "Claude claude-sonnet-5-5"),
        ("https://api.anthropic.com", "m", "Claude m"),
        ("https://gateway.corp", "claude-opus-5-5", "Claude claude-opus-5-5"),
        ("http://localhost:4000", "Claude-Haiku", "Claude Claude-Haiku"),  # a gateway's name
        ("http://localhost:11434", "qwen3", "local qwen3 via localhost:11434"),
        ("http://user:pw@10.0.0.5:8080/v1", "llama", "local llama via 10.0.0.5:8080"),
        ("http://us@er:p@w@10.0.0.5:8080", "llama", "local llama via 10.0.0.5:8080"),
        ("", "m", "Claude m"),
        ("https://llm.example.org", "mistral", "mistral via llm.example.org"),
    ],
)
def test_who_answers_at_a_base_url(base_url: str, model: str, said: str) -> None:
    assert describe_url(base_url, model) == said


def test_an_auth_token_is_a_credential(config, monkeypatch: pytest.MonkeyPatch) -> None:
    config("")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "ollama")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://localhost:11434")
    settings = load_settings(model="qwen3")
    assert settings.use_claude and settings.label_for() == "local qwen3 via localhost:11434"


def test_an_endpoints_values_are_tidied(config, monkeypatch: pytest.MonkeyPatch) -> None:
    name = "a" * 40  # the longest name allowed
    config(
        f"[endpoints.{name}]\n"
        'base_url = "http://127.0.0.1:8080///"\n'
        'models = [" qwen3 ", "qwen3", "", "llama"]\n'
        'api_key_env = " ATLAS_TEST_UNSET_KEY "\n'
        'label = " llama.cpp "\n'
    )
    monkeypatch.delenv("ATLAS_TEST_UNSET_KEY", raising=False)
    (endpoint,) = load_settings().endpoints
    assert endpoint == Endpoint(
        name,
        "http://127.0.0.1:8080",
        ("qwen3", "llama"),
        "auto",
        "ATLAS_TEST_UNSET_KEY",
        "llama.cpp",
    )
    assert endpoint.api_key() == ""  # named, but not set
    config('[endpoints.gw]\nbase_url = "https://gw.example/LLM-BOX/"\nmodels = ["m"]')
    assert load_settings().endpoints[0].base_url == "https://gw.example/LLM-BOX"  # only "/" cut
    assert endpoint.describe("llama") == "local llama via llama.cpp"
    # Endpoint objects given directly (the Python API) are taken as they are
    assert load_settings(endpoints=(endpoint,)).endpoints == (endpoint,)


@pytest.mark.parametrize("name", ["a" * 41, "Anthropic", "EXTRACTIVE", "-x", "a/b"])
def test_names_that_are_refused(config, name: str) -> None:
    config(f'[endpoints."{name}"]\nbase_url = "http://h"\nmodels = ["m"]\n')
    with pytest.raises(ConfigError, match="is not allowed"):
        load_settings()


@pytest.mark.parametrize(
    ("url", "anthropic"),
    [
        ("https://API.Anthropic.com/", True),
        ("https://anthropic.com", True),
        ("https://notanthropic.com", False),
        ("https://anthropic.com.example.org", False),
        ("http://localhost:11434", False),
    ],
)
def test_anthropics_own_api_is_recognised(url: str, anthropic: bool) -> None:
    assert is_anthropic_url(url) is anthropic
    profile = Endpoint("x", url, ("m",)).resolved_profile
    assert profile == ("anthropic" if anthropic else "compatible")


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("localhost", True),
        ("box.local", True),
        ("127.0.0.2", True),
        ("192.168.1.9", True),
        ("[::1]", True),
        ("169.254.0.1", True),
        ("8.8.8.8", False),
        ("ollama.com", False),
    ],
)
def test_what_counts_as_local(host: str, local: bool) -> None:
    assert Endpoint("x", f"http://{host}:1", ("m",)).is_local is local


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://admin:s3cretpass@127.0.0.1:11434/v1", "http://127.0.0.1:11434/v1"),
        ("https://TOKEN@gateway.example/path?q=1", "https://gateway.example/path?q=1"),
        ("http://us@er:p@w@10.0.0.5:8080", "http://10.0.0.5:8080"),
        ("http://localhost:11434", "http://localhost:11434"),
        ("", ""),
    ],
)
def test_a_base_url_is_shown_without_its_user_and_password(url: str, shown: str) -> None:
    assert without_credentials(url) == shown
