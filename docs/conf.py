"""Sphinx configuration for the flubber documentation."""
import os
import sys

sys.path.insert(0, os.path.abspath(".."))

import flubber  # noqa: E402

project = "flubber"
author = "the flubber developers"
copyright = "2026, " + author
version = release = flubber.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
]
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
intersphinx_mapping = {}
nitpicky = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = []
