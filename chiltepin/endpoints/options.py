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


def schema_for(site: Site) -> dict[str, Any]:
    """The shipped schema narrowed to ``site``: only options its scheduler understands,
    and maxima tightened to the site's ``limits``."""
    schema = copy.deepcopy(user_options_schema())
    properties = schema["properties"]
    for name in list(properties):
        spec = properties[name]
        if site.scheduler.value not in spec.get("x-schedulers", [site.scheduler.value]):
            del properties[name]
            continue
        if limit := spec.get("x-site-limit"):
            spec["maximum"] = getattr(site.limits, limit)
    return schema


def _explain(error: jsonschema.ValidationError, schema: dict[str, Any]) -> ConfigError:
    key = ".".join(str(p) for p in error.absolute_path) or None
    allowed = sorted(schema["properties"])
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(allowed))
        hints = ", ".join(f"{name!r}{did_you_mean(name, allowed)}" for name in unknown)
        return ConfigError(f"unknown option {hints}; this site accepts: {', '.join(allowed)}")
    spec = error.schema if isinstance(error.schema, dict) else {}
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
    problems = []
    for error in sorted(validator.iter_errors(options), key=lambda e: list(e.absolute_path)):
        explained = _explain(error, schema)
        problems.append(ConfigError(explained.detail, source=source, key=explained.key))
    if problems:
        raise ConfigErrors(problems)
