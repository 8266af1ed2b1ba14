"""Sphinx configuration for django-referral-rewards.

Build with ``sphinx-build -W -b html docs docs/_build/html`` from the repository root.
Only Sphinx and its built-in extensions are used (no network access is needed), plus the
local extensions in ``_ext/``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parent
ROOT_DIR = DOCS_DIR.parent

# The package and the test settings come from the repository; local extensions from _ext.
sys.path.insert(0, str(ROOT_DIR))
sys.path.insert(0, str(DOCS_DIR / "_ext"))

# autodoc imports the models, so Django must be configured first.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django_referral_rewards import __version__  # noqa: E402

# -- Project -------------------------------------------------------------------------

project = "django-referral-rewards"
author = "django-referral-rewards contributors"
copyright = "django-referral-rewards contributors"
release = __version__
version = ".".join(release.split(".")[:2])

# -- General -------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "rr_settings",
    "rr_changelog",
]

root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []
pygments_style = "sphinx"

# -- autodoc ---------------------------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_default_options = {
    "undoc-members": False,
}

# -- HTML ------------------------------------------------------------------------------

html_theme = "alabaster"
html_title = f"django-referral-rewards {release}"
html_theme_options = {
    "description": "Referrals, loyalty points, rewards and payouts for any Django site.",
    "fixed_sidebar": True,
}
