"""Submit-time user options: the per-site JSON schema and friendly validation against it.

The endpoint validates options with ``user_config_schema.json`` before rendering; chiltepin
validates the same options with the same schema *before* submitting, so a typo fails at
once on the user's laptop with a message naming the option and what it allows.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema

from chiltepin.errors import ConfigError, ConfigErrors, did_you_mean
from chiltepin.sites.model import Site, user_options_schema


def _alternatives(values: range, width: int) -> str:
    return "|".join(f"{v:0{width}d}" for v in values)


def walltime_at_most(cap: str) -> str:
    """A pattern for ``HH:MM:SS`` walltimes no longer than ``cap`` (a valid walltime).

    JSON schema cannot compare times, and the endpoint checks options with nothing but the
    schema; a pattern listing what is allowed below the cap lets it refuse longer walltimes
    itself (``render-user-config`` included), not only chiltepin's own check.
    """
    hours, minutes, seconds = (int(part) for part in cap.split(":"))
    any_ms = "[0-5][0-9]:[0-5][0-9]"
    hour_digits = "(?=[0-9]{1,3}:)0*"
    branches = []
    if hours:
        branches.append(f"{hour_digits}(?:{_alternatives(range(hours), 1)}):{any_ms}")
    at_cap = [f"{minutes:02d}:(?:{_alternatives(range(seconds + 1), 2)})"]
    if minutes:
        at_cap.append(f"(?:{_alternatives(range(minutes), 2)}):[0-5][0-9]")
    branches.append(f"{hour_digits}{hours}:(?:{'|'.join(at_cap)})")
    return f"^(?:{'|'.join(branches)})$"


def _blocks_within_max(site: Site) -> list[dict[str, Any]]:
    """Schema clauses keeping ``init_blocks`` and ``min_blocks`` at most ``max_blocks``,
    whichever of them the options set and the site supplies."""

    def at_most(limit: int, what: str) -> dict[str, Any]:
        bound = {"maximum": limit, "x-allowed": f"at most {what} ({limit})"}
        return {"properties": {"init_blocks": bound, "min_blocks": bound}}

    floor = max(site.init_blocks, site.min_blocks)
    clauses: list[dict[str, Any]] = [
        {
            "if": {"not": {"required": ["max_blocks"]}},
            "then": at_most(site.max_blocks, "the site's max_blocks"),
        },
        {
            "if": {"not": {"required": ["init_blocks", "min_blocks"]}},
            "then": {
                "properties": {
                    "max_blocks": {
                        "minimum": floor,
                        "x-allowed": f"at least the site's init_blocks and min_blocks ({floor})",
                    }
                }
            },
        },
    ]
    clauses += [
        {
            "if": {"properties": {"max_blocks": {"const": limit}}, "required": ["max_blocks"]},
            "then": at_most(limit, "max_blocks"),
        }
        for limit in range(1, site.limits.max_blocks)
    ]
    return clauses


def schema_for(site: Site) -> dict[str, Any]:
    """The shipped schema narrowed to ``site``: only options its scheduler understands,
    maxima tightened to the site's ``limits`` (walltime included), and block counts kept
    consistent (``init_blocks``/``min_blocks`` at most ``max_blocks``)."""
    schema = copy.deepcopy(user_options_schema())
    properties = schema["properties"]
    for name in list(properties):
        spec = properties[name]
        if site.scheduler.value not in spec.get("x-schedulers", [site.scheduler.value]):
            del properties[name]
            continue
        limit = spec.get("x-site-limit")
        if limit == "max_walltime":
            cap = site.limits.max_walltime
            spec["pattern"] = walltime_at_most(cap)
            spec["x-allowed"] = f"HH:MM:SS from 00:00:01 up to the site's limit {cap}"
        elif limit:
            spec["maximum"] = getattr(site.limits, limit)
    schema["allOf"] = _blocks_within_max(site)
    return schema


def _explain(error: jsonschema.ValidationError, schema: dict[str, Any]) -> ConfigError:
    key = ".".join(str(p) for p in error.absolute_path) or None
    allowed = sorted(schema["properties"])
    if error.validator == "additionalProperties":
        assert isinstance(error.instance, dict)  # additionalProperties judges objects only
        unknown = sorted(set(error.instance) - set(allowed))
        hints = ", ".join(f"{name!r}{did_you_mean(name, allowed)}" for name in unknown)
        return ConfigError(f"unknown option {hints}; this site accepts: {', '.join(allowed)}")
    spec = error.schema if isinstance(error.schema, dict) else {}
    if "x-allowed" in spec:
        return ConfigError(f"must be {spec['x-allowed']}; got {error.instance!r}", key=key)
    if error.validator == "pattern":
        described = next(
            (d["description"] for d in schema["$defs"].values() if d["pattern"] == spec["pattern"]),
            f"match {spec['pattern']}",
        )
        return ConfigError(f"must be {described}; got {error.instance!r}", key=key)
    if error.validator in {"minimum", "maximum", "exclusiveMinimum"}:
        bounds = ", ".join(
            f"{word} {spec[word]}"
            for word in ("minimum", "exclusiveMinimum", "maximum")
            if word in spec
        )
        return ConfigError(f"out of range ({bounds}); got {error.instance!r}", key=key)
    if error.validator == "enum":
        return ConfigError(f"must be one of {spec['enum']}; got {error.instance!r}", key=key)
    if error.validator == "type":
        return ConfigError(f"must be of type {spec['type']}; got {error.instance!r}", key=key)
    return ConfigError(error.message, key=key)


def validate_user_options(options: dict[str, Any], schema: dict[str, Any], source: str) -> None:
    """Raise :class:`ConfigErrors` naming every bad option, as the endpoint would reject it.

    ``schema`` is an endpoint's ``user_config_schema.json`` (or :func:`schema_for` a site).
    """
    validator = jsonschema.Draft202012Validator(schema)
    problems: dict[str | None, ConfigError] = {}
    for error in sorted(validator.iter_errors(options), key=lambda e: list(e.absolute_path)):
        explained = _explain(error, schema)
        # One problem per option: a value failing both the format and the site's limit
        # is reported once, by the first of them.
        problems.setdefault(
            explained.key, ConfigError(explained.detail, source=source, key=explained.key)
        )
    if problems:
        raise ConfigErrors(list(problems.values()))
