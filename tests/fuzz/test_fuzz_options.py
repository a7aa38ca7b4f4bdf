"""Generated submit-time user options on generated site limits: refused with a
ChiltepinError, or accepted and then rendered by the endpoint's own renderer (whose schema
check must agree) within every limit, with nothing exposed to a shell."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from chiltepin.endpoints.options import schema_for, validate_user_options
from chiltepin.errors import ChiltepinError
from chiltepin.sites.loader import load_site
from chiltepin.sites.model import user_options_schema
from tests.fuzz.profiles import ACCEPTED, TRIED, accepting, fuzz
from tests.fuzz.strategies import values, walltimes
from tests.fuzz.test_fuzz_sites import PLAUSIBLE, check_rendered

OPTION_KEYS = sorted(user_options_schema()["properties"])
limits = st.fixed_dictionaries(
    {},
    optional={
        "limits.max_walltime": walltimes,
        "limits.max_blocks": st.integers(1, 12),
        "max_blocks": st.integers(1, 4),
        "init_blocks": st.integers(0, 2),
    },
).map(lambda d: [f"{k}={v}" for k, v in d.items()])
option_keys = st.one_of(
    st.sampled_from(OPTION_KEYS), st.sampled_from(OPTION_KEYS), st.text(max_size=8)
)
options = st.dictionaries(option_keys, st.just(None), max_size=4).flatmap(
    lambda keys: st.fixed_dictionaries(
        {
            k: st.one_of(*[PLAUSIBLE.get(k, st.integers(-1, 40))] * 3, st.booleans(), values)
            for k in keys
        }
    )
)


@accepting("user options", 0.1)  # accepted 22-43% in 7 runs of the CI profile
@given(base=st.sampled_from(["hera", "derecho", "localhost"]), overrides=limits, opts=options)
@fuzz
def test_user_options(base: str, overrides: list[str], opts: dict[str, Any]) -> None:
    try:
        site = load_site(base, overrides)
    except ChiltepinError:
        return
    TRIED["user options"] += 1
    try:
        validate_user_options(opts, schema_for(site), "fuzz")
    except ChiltepinError:
        return
    ACCEPTED["user options"] += 1
    check_rendered(site, opts)  # the endpoint's renderer validates with the same schema
