"""Usage and cost: the model's own token counts priced from the config's table; the model list."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from atlas_tui.config import load_settings
from atlas_tui.errors import ConfigError
from atlas_tui.sessions import SessionStore
from atlas_tui.types import Usage
from atlas_tui.usage import DEFAULT_MODELS, DEFAULT_PRICES, cost_usd, usage_record, usage_text
from tests.fake_anthropic import Reply


def test_cost_is_priced_per_million_tokens_and_unknown_models_have_none() -> None:
    prices = {"m": (2.0, 10.0)}
    assert cost_usd(prices, "m", Usage(1_000_000, 100_000)) == 3.0  # exact: $2 + $1
    assert cost_usd(prices, "other", Usage(1000, 10)) is None
    assert cost_usd(prices, "m", Usage()) is None  # nothing counted (offline): no cost


def test_usage_is_summed_and_an_unpriced_answer_is_said_so() -> None:
    priced = usage_record(Usage(1000, 200), 0.004)
    unpriced = usage_record(Usage(500, 50), None)
    assert priced == {"input_tokens": 1000, "output_tokens": 200, "cost_usd": 0.004}
    assert usage_text([priced, priced]) == "2,000 in · 400 out · $0.0080"
    assert usage_text([priced, unpriced]) == "1,500 in · 250 out · ≥$0.0040 (some models unpriced)"
    assert usage_text([unpriced]) == "500 in · 50 out"
    assert usage_text([{}, usage_record(Usage(), None)]) == ""
    assert usage_text([{"input_tokens": "9", "output_tokens": True}]) == ""  # damaged: ignored


def test_an_answer_with_only_one_side_counted_is_still_priced_and_shown() -> None:
    """A request refused after its input was read bills input only; a count of one token is a
    count; each record's cost joins the sum whichever side it counted."""
    prices = {"m": (2.0, 10.0)}
    input_only = usage_record(Usage(1000, 0), cost_usd(prices, "m", Usage(1000, 0)))
    output_only = usage_record(Usage(0, 10), cost_usd(prices, "m", Usage(0, 10)))
    assert input_only == {"input_tokens": 1000, "output_tokens": 0, "cost_usd": 0.002}
    assert output_only == {"input_tokens": 0, "output_tokens": 10, "cost_usd": 0.0001}
    assert usage_text([input_only]) == "1,000 in · 0 out · $0.0020"
    assert usage_text([output_only]) == "0 in · 10 out · $0.0001"
    assert usage_text([input_only, output_only]) == "1,000 in · 10 out · $0.0021"
    assert usage_text([{"input_tokens": 1, "output_tokens": 1}]) == "1 in · 1 out"


def test_a_stored_cost_is_kept_to_a_millionth_of_a_dollar() -> None:
    record = usage_record(Usage(1234, 567), 0.0123456789)
    assert record["cost_usd"] == 0.012346


def test_the_config_sets_the_model_list_and_adds_prices(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        'models = ["claude-haiku-5-5", " claude-opus-5-5 ", "claude-haiku-5-5"]\n'
        '[prices]\n"claude-haiku-5-5" = [0.1, 0.5]\n"claude-opus-5-5" = [3, 15]\n'
    )
    settings = load_settings(config)
    assert settings.models == ("claude-haiku-5-5", "claude-opus-5-5")
    assert settings.prices["claude-haiku-5-5"] == (0.1, 0.5)
    assert settings.prices["claude-opus-5-5"] == (3.0, 15.0)  # overridden
    assert settings.prices["claude-sonnet-5-5"] == DEFAULT_PRICES["claude-sonnet-5-5"]  # kept
    defaults = load_settings(Path(os.devnull))  # no config file
    assert defaults.models == DEFAULT_MODELS and defaults.model in defaults.models
    assert [m for m in DEFAULT_MODELS if m not in DEFAULT_PRICES] == []  # every cost is exact


@pytest.mark.parametrize(
    "toml",
    [
        "models = []",
        "models = [1, 2]",
        'models = "claude-sonnet-5-5"' + "\n[prices]\nx = 3",
        "[prices]\nx = [1]",
        "[prices]\nx = [-1, 2]",
        '[prices]\nx = ["a", "b"]',
    ],
)
def test_a_bad_model_list_or_price_is_a_clear_error(tmp_path: Path, toml: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(toml + "\n")
    with pytest.raises(ConfigError, match=r"Setting '(models|prices)' must be"):
        load_settings(config)


def test_ask_stores_the_model_and_its_usage_with_the_turn(
    research_index: str, tmp_path: Path, fake_anthropic
) -> None:
    fake_anthropic.script(Reply.text("Three modes.", input_tokens=2000, output_tokens=100))
    sessions = tmp_path / "sessions.sqlite3"
    env = {
        **os.environ,
        "ATLAS_DB_PATH": research_index,
        "ATLAS_SESSIONS_PATH": str(sessions),
        "ANTHROPIC_API_KEY": "test-key",
        "ANTHROPIC_BASE_URL": fake_anthropic.base_url,
        "ATLAS_DEFAULT_MODEL": "claude-opus-5-5",
    }
    done = subprocess.run(
        [sys.executable, "-m", "atlas_tui.cli", "ask", "What is the trimodal methodology?"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with SessionStore(sessions) as store:
        (turn,) = store.load_session("last").turns
    assert turn.model == "claude-opus-5-5"  # $4 / $20 per million tokens
    assert turn.usage == {"input_tokens": 2000, "output_tokens": 100, "cost_usd": 0.01}
