"""`atlas-tui models`: what each place that answers offers. Claude's configured models (with a
key), then each endpoint of the config file with its models and what its server lists at
`/v1/models`. The model marked `*` answers when none is chosen. Server-sent names are untrusted:
they pass the terminal filter like everything else."""

from __future__ import annotations

import argparse

from atlas_tui.cli.output import print_json
from atlas_tui.config import Settings
from atlas_tui.safety import terminal_safe

NO_PLACE = (
    "No model is configured: answers are offline extractive quotes. Set ANTHROPIC_API_KEY for "
    "Claude, or add an [endpoints.NAME] table (base_url, models) to the config file for a local "
    "server such as Ollama."
)


def add_parser(sub: argparse._SubParsersAction, common: object) -> None:
    models = sub.add_parser("models", help="list the models of Claude and each endpoint")
    common(models)  # type: ignore[operator]
    models.add_argument("--json", action="store_true", help="print a JSON array")
    models.add_argument(
        "--no-servers", action="store_true", help="list the configured models only (no requests)"
    )


def _names(models: tuple[str, ...], default: str) -> str:
    return ", ".join(f"{m}*" if m == default else m for m in models) or "none"


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    from atlas_tui.query import AtlasQuery

    offers = AtlasQuery(settings).model_offers(ask_servers=not args.no_servers)
    if args.json:
        print_json([offer.to_dict() for offer in offers])
        return 0
    if not offers:
        print(NO_PLACE)
        return 0
    for offer in offers:
        where = offer.where or "Anthropic's API"
        print(terminal_safe(f"{offer.name}  {where}  ({offer.profile} profile)"))
        print(terminal_safe(f"  configured:   {_names(offer.configured, offer.default)}"))
        if offer.served is not None:
            print(terminal_safe(f"  server lists: {_names(offer.served, offer.default)}"))
        elif offer.problem:
            print(terminal_safe(f"  server lists: ?  ({offer.problem})"))
    if settings.answers_offline:
        print("Questions are answered offline unless a session picks one of these models.")
    return 0
