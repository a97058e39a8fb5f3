"""What each place that answers offers: Claude's configured models and each endpoint's, with the
models its server lists at `GET /v1/models` where it has that route (`atlas-tui models`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import anthropic

from atlas_tui.config import Settings
from atlas_tui.endpoints import Endpoint, without_credentials
from atlas_tui.generation.anthropic import make_client, omit_missing_credential

LIST_TIMEOUT_S = 5.0
MAX_LISTED = 500


@dataclass(frozen=True, slots=True)
class Offer:
    name: str  # "claude" or the endpoint's name
    where: str  # the base URL ("" for Anthropic's API)
    profile: str  # anthropic | compatible
    configured: tuple[str, ...]  # the models the config file names
    default: str  # the model that answers when none is chosen ("" when another place answers)
    served: tuple[str, ...] | None = None  # what /v1/models listed; None when not asked or failed
    problem: str = ""  # why the server's list is missing

    def to_dict(self) -> dict[str, object]:
        served = list(self.served) if self.served is not None else None
        return {
            "name": self.name,
            "base_url": self.where,
            "profile": self.profile,
            "configured": list(self.configured),
            "default": self.default,
            "served": served,
            "problem": self.problem,
        }


def _served(
    settings: Settings, endpoint_key: str | None = None
) -> tuple[tuple[str, ...] | None, str]:
    quick = replace(settings, max_retries=0, request_timeout=min(settings.request_timeout, 5.0))
    client = make_client(quick, endpoint_key=endpoint_key)
    try:
        page = client.models.list(limit=100, extra_headers=omit_missing_credential(client))
        names: list[str] = []
        for model in page:  # follows the pages, where the server has more than one
            names.append(str(model.id))
            if len(names) >= MAX_LISTED:
                break
        return tuple(names), ""
    except anthropic.NotFoundError:
        return None, "the server has no /v1/models"
    except anthropic.APIConnectionError as exc:
        return None, f"not reachable: {exc.__cause__ or exc}"
    except anthropic.APIStatusError as exc:
        return None, f"/v1/models answered {exc.status_code}: {exc.api_message or exc.message}"
    except anthropic.APIError as exc:
        return None, f"/v1/models could not be read: {exc.message}"
    except (AttributeError, TypeError, ValueError):  # the SDK's reading of a 200 that is no list
        return None, "/v1/models did not answer with a list of models (a web page, or bad JSON)"
    finally:
        client.close()


def _endpoint_offer(settings: Settings, endpoint: Endpoint, ask: bool) -> Offer:
    default_endpoint, default_model = settings.route()
    key = endpoint.api_key()
    served, problem = (None, "")
    if ask:
        local = replace(settings, base_url=endpoint.base_url, api_key=key, auth_token="")
        served, problem = _served(local, endpoint_key=key)
    return Offer(
        name=endpoint.name,
        where=without_credentials(endpoint.base_url),
        profile=endpoint.resolved_profile,
        configured=endpoint.models,
        default=default_model if default_endpoint == endpoint else "",
        served=served,
        problem=problem,
    )


def offers(settings: Settings, *, ask_servers: bool = True) -> list[Offer]:
    """Claude (when it is configured), then every endpoint, in the config file's order."""
    found: list[Offer] = []
    endpoint, default = settings.route()
    if settings.use_claude:
        served, problem = _served(settings) if ask_servers else (None, "")
        found.append(
            Offer(
                name="claude",
                where=without_credentials(settings.base_url),
                profile="anthropic",
                configured=tuple(dict.fromkeys((*settings.models, settings.model))),
                default=default if endpoint is None else "",
                served=served,
                problem=problem,
            )
        )
    found.extend(_endpoint_offer(settings, e, ask_servers) for e in settings.endpoints)
    return found
