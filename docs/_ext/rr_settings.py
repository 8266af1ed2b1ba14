"""Sphinx extension: the settings reference, generated from ``conf.AppSettings``.

Every ``REFERRAL_REWARDS_*`` setting is one upper-case ``@property`` of
:class:`django_referral_rewards.conf.AppSettings` whose docstring is its documentation.
The directive ::

    .. referral-rewards-settings::

emits, in definition order, one section per setting, titled with its full name, with a
``setting`` target (so ``:setting:`REFERRAL_REWARDS_MEMBER_MODEL``` links to it), its type
and its docstring parsed as reStructuredText.

:func:`iter_settings` and :func:`render_settings_rst` do not need Sphinx and are what the
test suite calls.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

try:  # The pure functions below work without Sphinx; the directive needs it.
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util import logging
    from sphinx.util.docutils import SphinxDirective
    from sphinx.util.nodes import nested_parse_with_titles
except ImportError:  # pragma: no cover - only without Sphinx installed
    SphinxDirective = object  # type: ignore[assignment,misc]

DIRECTIVE_NAME = "referral-rewards-settings"


@dataclass(frozen=True)
class SettingDoc:
    """One setting as documented by its ``AppSettings`` property."""

    name: str  # without the prefix, e.g. "MEMBER_MODEL"
    full_name: str  # e.g. "REFERRAL_REWARDS_MEMBER_MODEL"
    doc: str  # dedented docstring; "" when the property has none
    type: str  # the property's return annotation as written, or ""


def _settings_class() -> type:
    from django_referral_rewards.conf import AppSettings

    return AppSettings


def iter_settings(settings_class: type | None = None) -> Iterator[SettingDoc]:
    """Every setting of ``settings_class`` (default: ``AppSettings``), in definition
    order: the properties whose names are upper-case, as ``known_setting_names()`` sees
    them."""
    from django_referral_rewards.conf import PREFIX

    cls = settings_class or _settings_class()
    for name, value in vars(cls).items():
        if not (isinstance(value, property) and name.isupper()):
            continue
        doc = inspect.cleandoc(value.__doc__) if value.__doc__ else ""
        annotation: Any = getattr(value.fget, "__annotations__", {}).get("return", "")
        if not isinstance(annotation, str):
            annotation = getattr(annotation, "__name__", repr(annotation))
        yield SettingDoc(name=name, full_name=PREFIX + name, doc=doc, type=annotation)


def render_settings_rst(settings_class: type | None = None, *, underline: str = "-") -> str:
    """The reStructuredText the directive parses: one section per setting."""
    lines: list[str] = []
    for setting in iter_settings(settings_class):
        title = f"``{setting.full_name}``"
        lines += [
            f".. setting:: {setting.full_name}",
            "",
            title,
            underline * len(title),
            "",
        ]
        if setting.type:
            lines += [f":Type: ``{setting.type}``", ""]
        lines += [*(setting.doc or "*Undocumented.*").splitlines(), ""]
    return "\n".join(lines)


class SettingsDirective(SphinxDirective):
    """``.. referral-rewards-settings::`` — no arguments, no content."""

    has_content = False
    required_arguments = 0
    optional_arguments = 0

    def run(self) -> list[Any]:
        logger = logging.getLogger(__name__)
        # Rebuild the page when conf.py changes.
        module_file = getattr(inspect.getmodule(_settings_class()), "__file__", None)
        if module_file:
            self.env.note_dependency(module_file)
        for setting in iter_settings():
            if not setting.doc:
                logger.warning(
                    "%s has no docstring: document it in django_referral_rewards/conf.py.",
                    setting.full_name,
                    location=self.get_location(),
                )
        source = f"<{DIRECTIVE_NAME}: django_referral_rewards.conf.AppSettings>"
        content = StringList(render_settings_rst().splitlines(), source=source)
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, content, container, self.content_offset)
        return list(container.children)


def setup(app: Any) -> dict[str, Any]:
    # The same object type Django's own documentation uses for its settings.
    app.add_crossref_type(
        directivename="setting",
        rolename="setting",
        indextemplate="pair: %s; setting",
    )
    app.add_directive(DIRECTIVE_NAME, SettingsDirective)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
