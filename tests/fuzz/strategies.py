"""Hostile inputs: text with shell and YAML syntax, odd numbers, wrong types, nesting."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

PAYLOADS = [
    "; rm -rf ~",
    "$(reboot)",
    "`id`",
    "a b",
    "'",
    '"',
    "\n",
    "\\",
    "..",
    "../..",
    "/../../etc/passwd",
    "{scratch}",
    "{run_id}",
    "{",
    "}",
    "{{",
    "*",
    "&a",
    "*a",
    "\x00",
    "\u202e",
    "é",
    "~",
    "#",
    "|",
    "> /etc/x",
    "-",
    ":",
    "00:00:00",
    "999:59:59",
    "01:00:00",
    "null",
    "yes",
    "0x10",
    "1e999",
    ".nan",
]

characters = st.characters(blacklist_categories=("Cs",))
hostile_text = st.one_of(
    st.text(characters, max_size=40),
    st.sampled_from(PAYLOADS),
    st.lists(st.one_of(st.sampled_from(PAYLOADS), st.text("abc/._-:", max_size=6)), max_size=5).map(
        "".join
    ),
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-2, max_value=2000),
    st.floats(allow_nan=True, allow_infinity=True),
)
walltimes = st.builds(
    lambda h, m, s, w: f"{h:0{w}d}:{m:02d}:{s:02d}",
    st.one_of(st.integers(0, 10), st.integers(0, 999)),
    st.one_of(st.integers(0, 59), st.integers(0, 99)),
    st.one_of(st.integers(0, 59), st.integers(0, 99)),
    st.integers(1, 3),
)
safe_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,8}", fullmatch=True)
"""Names a site file or a request may well hold (partition, account, site names...)."""
scalars = st.one_of(hostile_text, numbers, st.booleans(), st.none(), walltimes)
values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(hostile_text, inner, max_size=4)
    ),
    max_leaves=12,
)
