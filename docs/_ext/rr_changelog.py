"""Sphinx extension: show the repository's ``CHANGELOG.md`` on the changelog page.

The changelog is Markdown and the docs use only Sphinx's built-in extensions (no MyST),
so the file is shown as a highlighted literal block. ::

    .. referral-rewards-changelog:: ../CHANGELOG.md

The path is relative to the document. If the file does not exist (a fresh checkout
before the first release note), the page says where the changelog lives instead of
failing the build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)


class ChangelogDirective(SphinxDirective):
    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        relative, absolute = self.env.relfn2path(self.arguments[0], self.env.docname)
        path = Path(absolute)
        # Rebuild this page when the file appears or changes.
        self.env.note_dependency(relative)
        if not path.is_file():
            logger.info("%s not found; the changelog page shows a pointer instead.", path)
            paragraph = nodes.paragraph()
            paragraph += nodes.emphasis(text=f"There is no {path.name} in this checkout yet.")
            return [paragraph]
        text = path.read_text(encoding="utf-8")
        block = nodes.literal_block(text, text)
        block["language"] = "markdown"
        block["source"] = str(path)
        return [block]


def setup(app: Any) -> dict[str, Any]:
    app.add_directive("referral-rewards-changelog", ChangelogDirective)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
