"""What an answer cost: tokens in and out as the model counted them, and dollars where its price
is known. A leaf module (imports nothing of atlas_tui but the shared records).

Prices are US dollars per million tokens, (input, output), per model id. The defaults are
Anthropic's published list prices for the models named; `[prices]` in the config adds or
overrides entries. A model without a price shows tokens only, never a guessed cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from atlas_tui.types import Usage

# The models offered by the model picker (the config's `models` replaces this list): only models
# with a price below, so that the cost shown is exact. Haiku 5.5 is priced in tiers: a config
# adds it with `models` and `[prices]` (the README shows how).
DEFAULT_MODELS: tuple[str, ...] = (
    "claude-sonnet-5-5",
    "claude-opus-5-5",
    "claude-fable-5-1",
)

# USD per million tokens: (input, output).
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "claude-sonnet-5-5": (2.0, 10.0),
    "claude-opus-5-5": (4.0, 20.0),
    "claude-fable-5-1": (10.0, 50.0),
    "claude-sonnet-5": (2.0, 10.0),
    "claude-opus-5": (5.0, 25.0),
    "claude-haiku-4-5": (1.0, 5.0),
}


def cost_usd(prices: Mapping[str, tuple[float, float]], model: str, usage: Usage) -> float | None:
    """The answer's cost in dollars, or None when the model's price is unknown or nothing was
    counted."""
    price = prices.get(model)
    if price is None or not (usage.input_tokens or usage.output_tokens):
        return None
    per_input, per_output = price
    return (usage.input_tokens * per_input + usage.output_tokens * per_output) / 1_000_000


def usage_record(usage: Usage, cost: float | None) -> dict[str, Any]:
    """Usage as stored with a turn ({} when the answerer counted nothing, e.g. offline)."""
    if not (usage.input_tokens or usage.output_tokens):
        return {}
    record: dict[str, Any] = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
    }
    if cost is not None:
        record["cost_usd"] = round(cost, 6)
    return record


def usage_text(records: list[Mapping[str, Any]]) -> str:
    """'1,234 in · 567 out · $0.0123' summed over stored usage records; '' when none counted."""
    tokens_in = sum(_count(r, "input_tokens") for r in records)
    tokens_out = sum(_count(r, "output_tokens") for r in records)
    if not (tokens_in or tokens_out):
        return ""
    text = f"{tokens_in:,} in · {tokens_out:,} out"
    costs = [r.get("cost_usd") for r in records if _count(r, "input_tokens", "output_tokens")]
    if costs and all(isinstance(c, int | float) and not isinstance(c, bool) for c in costs):
        text += f" · ${sum(costs):.4f}"  # type: ignore[arg-type]
    elif any(isinstance(c, int | float) for c in costs):
        known = sum(c for c in costs if isinstance(c, int | float))
        text += f" · ≥${known:.4f} (some models unpriced)"
    return text


def _count(record: Mapping[str, Any], *names: str) -> int:
    total = 0
    for name in names:
        value = record.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            total += value
    return total
