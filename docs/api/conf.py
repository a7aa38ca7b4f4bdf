"""Sphinx configuration of chiltepin's API reference (``./dev docs``; built warning-free by
tests/test_api_docs.py).

Everything here works offline: no intersphinx (nothing is fetched), no theme beyond the
one Sphinx ships. The pages document the package as importable from this checkout.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # this checkout's chiltepin, not an installed copy

project = "chiltepin"
author = "chiltepin contributors"
copyright = "chiltepin contributors"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx_click",
    "sphinxcontrib.autodoc_pydantic",
]

# The docstrings are Google style ("Args:"), each parameter listed under "Parameters".
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_param = True
napoleon_use_rtype = False

autodoc_member_order = "bysource"
# Type hints stay in the signature: "description" would add a Parameters entry for every
# undocumented parameter, and an undocumented parameter must show as missing.
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autoclass_content = "class"

# Models: each field with its description, default and constraints; the JSON schema and
# validator lists are left out (what a user writes is the field list).
autodoc_pydantic_model_show_json = False
autodoc_pydantic_model_show_config_summary = False
autodoc_pydantic_model_show_validator_summary = False
autodoc_pydantic_model_show_validator_members = False
autodoc_pydantic_model_show_field_summary = True
autodoc_pydantic_model_member_order = "bysource"
autodoc_pydantic_model_signature_prefix = "model"
autodoc_pydantic_field_list_validators = False
autodoc_pydantic_field_doc_policy = "description"
autodoc_pydantic_field_show_constraints = True
autodoc_pydantic_field_show_alias = False

# Options such as --port stay as typed (no en dash), as in the terminal.
smartquotes = False

html_theme = "alabaster"
html_static_path: list[str] = []
html_title = "chiltepin API reference"
exclude_patterns = ["_build"]
