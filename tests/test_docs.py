"""The documentation stays in step with the code.

* Every signal defined in ``signals.py`` is documented in ``docs/reference/signals.rst``
  with exactly the arguments listed in the comment above it (and is declared in
  ``OUTBOUND_SIGNALS``, or ``INBOUND_SIGNALS`` once inbound signals exist).
* Every setting (an upper-case property of ``conf.AppSettings``) has a docstring, is a
  known setting name, and is rendered by the settings directive of ``docs/_ext``.
* The check ids, exception codes and ``:setting:`` references in the docs match the code.
* The fraud topic lists every default signal (with its score), check and threshold.
* The quickstart's code runs.
* The whole documentation builds with warnings as errors (when Sphinx is installed).

Each check is a function returning a list of problems, so that the "negative" tests below
can show that it does report a broken input: none of these tests passes vacuously.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest
from django.dispatch import Signal

from django_referral_rewards import checks, conf, exceptions, signals

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SIGNALS_RST = DOCS / "reference" / "signals.rst"
CHECKS_RST = DOCS / "reference" / "checks.rst"
EXCEPTIONS_RST = DOCS / "reference" / "exceptions.rst"
QUICKSTART_RST = DOCS / "quickstart.rst"


# --- signals ---------------------------------------------------------------------------

SIGNAL_DEF = re.compile(r"^(?P<name>[A-Za-z_]\w*)\s*(?::[^=]*)?=\s*(?:\w+\.)*Signal\(")
DOC_SIGNAL = re.compile(r"^\.\. py:data:: (?P<name>\w+)\s*$", re.MULTILINE)
DOC_ARGUMENT = re.compile(r"^ {3}``(?P<name>\w+)``\s*$", re.MULTILINE)


def _strip_parentheses(text: str) -> str:
    while True:
        stripped = re.sub(r"\([^()]*\)", "", text)
        if stripped == text:
            return text
        text = stripped


def signal_comments(source: str) -> dict[str, list[str]]:
    """``name -> comment lines`` for every ``name = Signal()`` in ``source``."""
    lines = source.splitlines()
    found: dict[str, list[str]] = {}
    for index, line in enumerate(lines):
        match = SIGNAL_DEF.match(line)
        if not match:
            continue
        comment: list[str] = []
        above = index - 1
        while above >= 0 and lines[above].lstrip().startswith("#"):
            comment.insert(0, lines[above].lstrip().lstrip("#").strip())
            above -= 1
        found[match["name"]] = comment
    return found


def comment_arguments(comment: list[str]) -> list[str] | None:
    """The argument names listed after ``Arguments:`` in a signal's comment, or ``None``
    when the comment lists none. Parenthesised notes (types, remarks) are ignored."""
    text = " ".join(comment)
    match = re.search(r"\bArguments:\s*(?P<args>.*)$", text, re.IGNORECASE)
    if not match:
        return None
    names = []
    for part in _strip_parentheses(match["args"]).split(","):
        name = part.strip().rstrip(".").strip()
        if name:
            names.append(name)
    return names


def documented_signals(rst: str) -> dict[str, set[str]]:
    """``name -> argument names`` for every ``.. py:data::`` block of the signals page."""
    matches = list(DOC_SIGNAL.finditer(rst))
    documented: dict[str, set[str]] = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(rst)
        block = rst[match.end() : end]
        documented[match["name"]] = {m["name"] for m in DOC_ARGUMENT.finditer(block)}
    return documented


def signal_doc_problems(source: str, rst: str) -> list[str]:
    problems = []
    documented = documented_signals(rst)
    for name, comment in signal_comments(source).items():
        arguments = comment_arguments(comment)
        if not arguments:
            problems.append(f"{name}: the comment above it in signals.py lists no 'Arguments:'")
            continue
        if any(not re.fullmatch(r"[A-Za-z_]\w*", argument) for argument in arguments):
            problems.append(f"{name}: cannot read the argument list {arguments!r}")
            continue
        if name not in documented:
            problems.append(f"{name} is not documented (no '.. py:data:: {name}')")
            continue
        missing = set(arguments) - documented[name]
        extra = documented[name] - set(arguments)
        if missing:
            problems.append(f"{name}: arguments not documented: {sorted(missing)}")
        if extra:
            problems.append(f"{name}: documented arguments not in signals.py: {sorted(extra)}")
    return problems


def _module_signals(module: ModuleType) -> set[str]:
    return {name for name, value in vars(module).items() if isinstance(value, Signal)}


def test_every_signal_is_documented_with_its_arguments():
    problems = signal_doc_problems(
        Path(signals.__file__).read_text(encoding="utf-8"), SIGNALS_RST.read_text(encoding="utf-8")
    )
    assert problems == []


def test_every_outbound_signal_is_on_the_signals_page():
    documented = documented_signals(SIGNALS_RST.read_text(encoding="utf-8"))
    assert signals.OUTBOUND_SIGNALS, "OUTBOUND_SIGNALS is empty"
    assert set(signals.OUTBOUND_SIGNALS) <= set(documented)


def test_signal_comments_are_read_for_every_signal_object():
    # A Signal() the comment parser cannot see would escape the check above.
    parsed = set(signal_comments(Path(signals.__file__).read_text(encoding="utf-8")))
    assert parsed == _module_signals(signals)


def test_every_signal_is_declared():
    declared = set(signals.OUTBOUND_SIGNALS) | set(getattr(signals, "INBOUND_SIGNALS", ()))
    defined = _module_signals(signals)
    assert defined - declared == set(), "Signal() objects missing from OUTBOUND_SIGNALS"
    assert declared - defined == set(), "names in OUTBOUND_SIGNALS that are not signals"


SAMPLE_SIGNALS = """
# Something happened.
# Arguments: sender (Thing), thing, amount (int, positive).
thing_happened = Signal()
"""
SAMPLE_RST = """
.. py:data:: thing_happened

   Something happened.

   ``sender``
      The class.
   ``thing``
      The thing.
   ``amount``
      How much.
"""


def test_signal_check_accepts_a_matching_page():
    assert signal_doc_problems(SAMPLE_SIGNALS, SAMPLE_RST) == []


@pytest.mark.parametrize(
    ("source", "rst", "expected"),
    [
        (SAMPLE_SIGNALS, "", "not documented"),
        (
            SAMPLE_SIGNALS,
            SAMPLE_RST.replace("   ``amount``\n      How much.\n", ""),
            "not documented: ['amount']",
        ),
        (
            SAMPLE_SIGNALS.replace(", amount (int, positive)", ""),
            SAMPLE_RST,
            "not in signals.py: ['amount']",
        ),
        (SAMPLE_SIGNALS.replace("# Arguments", "# Args"), SAMPLE_RST, "lists no 'Arguments:'"),
        (SAMPLE_SIGNALS + "\nother_thing = Signal()\n", SAMPLE_RST, "other_thing"),
    ],
    ids=["page-missing", "argument-missing", "argument-extra", "no-arguments", "new-signal"],
)
def test_signal_check_reports_mismatches(source, rst, expected):
    problems = signal_doc_problems(source, rst)
    assert any(expected in problem for problem in problems), problems


# --- settings --------------------------------------------------------------------------


def _setting_properties(cls: type) -> dict[str, property]:
    return {
        name: value
        for name, value in vars(cls).items()
        if isinstance(value, property) and name.isupper()
    }


def settings_problems(cls: type, known: set[str]) -> list[str]:
    problems = []
    properties = _setting_properties(cls)
    if not properties:
        problems.append(f"{cls.__name__} has no settings")
    for name, prop in properties.items():
        full_name = conf.PREFIX + name
        if not (prop.__doc__ or "").strip():
            problems.append(f"{full_name} has no docstring")
        if full_name not in known:
            problems.append(f"{full_name} is not in known_setting_names()")
    stray = known - {conf.PREFIX + name for name in properties}
    if stray:
        problems.append(f"known_setting_names() has names without a property: {sorted(stray)}")
    return problems


def test_every_setting_has_a_docstring_and_is_known():
    assert settings_problems(conf.AppSettings, conf.known_setting_names()) == []


def test_settings_check_reports_an_undocumented_setting():
    class Broken(conf.AppSettings):
        @property
        def UNDOCUMENTED(self) -> int:
            return 1

    problems = settings_problems(Broken, conf.known_setting_names())
    assert f"{conf.PREFIX}UNDOCUMENTED has no docstring" in problems
    assert f"{conf.PREFIX}UNDOCUMENTED is not in known_setting_names()" in problems


def _load_extension(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_docs_ext_{name}", DOCS / "_ext" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def rendered_settings_problems(rst: str, cls: type) -> list[str]:
    problems = []
    for name, prop in _setting_properties(cls).items():
        full_name = conf.PREFIX + name
        if f".. setting:: {full_name}\n" not in rst or f"``{full_name}``\n" not in rst:
            problems.append(f"{full_name} is not rendered")
            continue
        first_line = inspect.cleandoc(prop.__doc__ or "").splitlines()[:1]
        if first_line and first_line[0] not in rst:
            problems.append(f"{full_name}: its docstring is not rendered")
    return problems


def test_settings_directive_renders_every_setting():
    rr_settings = _load_extension("rr_settings")
    rst = rr_settings.render_settings_rst()
    assert rendered_settings_problems(rst, conf.AppSettings) == []
    # Definition order, as in conf.py.
    order = [setting.full_name for setting in rr_settings.iter_settings()]
    assert order == [conf.PREFIX + name for name in _setting_properties(conf.AppSettings)]
    assert set(order) == conf.known_setting_names()


def test_rendered_settings_check_reports_a_missing_setting():
    rr_settings = _load_extension("rr_settings")

    class Fewer:
        @property
        def MEMBER_MODEL(self) -> str:
            """Documented."""
            return ""

    rst = rr_settings.render_settings_rst(Fewer)
    problems = rendered_settings_problems(rst, conf.AppSettings)
    assert f"{conf.PREFIX}SWEEP_BATCH_SIZE is not rendered" in problems


def test_settings_page_uses_the_directive():
    assert ".. referral-rewards-settings::" in (DOCS / "reference" / "settings.rst").read_text(
        encoding="utf-8"
    )


def test_setting_references_in_the_docs_exist():
    used = set()
    for path in DOCS.rglob("*.rst"):
        if "_build" in path.parts:
            continue
        used |= set(re.findall(r":setting:`(?:[^`<]*<)?(\w+)>?`", path.read_text(encoding="utf-8")))
    assert used, "no :setting: references found"
    assert used - conf.known_setting_names() == set()


def _build(srcdir: Path, outdir: Path, *extra: str) -> tuple[int, str]:
    from sphinx.cmd.build import build_main

    warnings = outdir.parent / f"{outdir.name}-warnings.txt"
    status = build_main(
        ["-W", "-E", "-q", "-b", "html", "-w", str(warnings), *extra, str(srcdir), str(outdir)]
    )
    return status, warnings.read_text(encoding="utf-8") if warnings.exists() else ""


def test_settings_directive_in_a_sphinx_build(tmp_path):
    pytest.importorskip("sphinx")
    srcdir = tmp_path / "src"
    srcdir.mkdir()
    (srcdir / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(DOCS / '_ext')!r})\nextensions = ['rr_settings']\n",
        encoding="utf-8",
    )
    (srcdir / "index.rst").write_text(
        "Settings\n========\n\n.. referral-rewards-settings::\n", encoding="utf-8"
    )
    status, warnings = _build(srcdir, tmp_path / "html")
    assert status == 0, warnings
    html = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    for name in conf.known_setting_names():
        assert f'id="std-setting-{name}"' in html, name
        assert f'<span class="pre">{name}</span>' in html, name


# --- checks, exceptions ----------------------------------------------------------------

CHECK_ID = re.compile(r"referral_rewards\.[CEIW]\d{3}")


def test_every_check_id_is_documented():
    in_code = set(CHECK_ID.findall(Path(checks.__file__).read_text(encoding="utf-8")))
    in_docs = set(CHECK_ID.findall(CHECKS_RST.read_text(encoding="utf-8")))
    assert in_code, "no check ids found in checks.py"
    assert in_code - in_docs == set(), "check ids missing from docs/reference/checks.rst"
    assert in_docs - in_code == set(), "documented check ids that checks.py does not emit"


def test_every_exception_code_is_documented():
    rst = EXCEPTIONS_RST.read_text(encoding="utf-8")
    documented = dict(re.findall(r"\* - ``(\w+)``\n\s+- ``(\w+)``", rst))
    defined = {
        name: value.code
        for name, value in vars(exceptions).items()
        if isinstance(value, type) and issubclass(value, exceptions.ReferralRewardsError)
    }
    assert documented == defined


# --- the fraud topic ---------------------------------------------------------------------

FRAUD_RST = DOCS / "topics" / "fraud.rst"
FRAUD_TABLE_ROW = re.compile(r"^   \* - ``(?P<name>\w+)``\n     - (?P<score>\d+)$", re.MULTILINE)
FRAUD_DEFAULT = re.compile(r"^``(?P<field>\w+)`` \(default ``(?P<value>[^`]+)``\)$", re.MULTILINE)
FRAUD_PROGRAM_FIELDS = (
    "fraud_review_score",
    "fraud_block_score",
    "review_days",
    "review_default_outcome",
)


def fraud_doc_problems(
    rst: str, scores: dict[str, int], paths: tuple[str, ...], defaults: dict[str, str]
) -> list[str]:
    """Where the fraud topic disagrees with the code: each default signal is a row of the
    signals table with its default score (and no row is for a signal the checks do not
    report), each default check is named by its import string, and each program
    threshold is given with its field's default."""
    problems = []
    rows = {match["name"]: int(match["score"]) for match in FRAUD_TABLE_ROW.finditer(rst)}
    for name, score in scores.items():
        if name not in rows:
            problems.append(f"signal {name} is not in the signals table")
        elif rows[name] != score:
            problems.append(f"signal {name}: the page says {rows[name]}, the code {score}")
    for name in sorted(set(rows) - set(scores)):
        problems.append(f"the signals table lists {name}, which no default check reports")
    for path in paths:
        if f"``{path}``" not in rst:
            problems.append(f"check {path} is not named")
    documented = {match["field"]: match["value"] for match in FRAUD_DEFAULT.finditer(rst)}
    for field, value in defaults.items():
        if documented.get(field) != value:
            problems.append(f"{field}: the page says {documented.get(field)!r}, the code {value!r}")
    return problems


def _program_defaults() -> dict[str, str]:
    from django_referral_rewards.models import Program

    return {name: str(Program._meta.get_field(name).default) for name in FRAUD_PROGRAM_FIELDS}


def test_the_fraud_topic_lists_every_default_signal_check_and_threshold():
    from django_referral_rewards.fraud import checks as fraud_checks

    rst = FRAUD_RST.read_text(encoding="utf-8")
    assert (
        fraud_doc_problems(
            rst, fraud_checks.DEFAULT_SCORES, fraud_checks.DEFAULT_CHECKS, _program_defaults()
        )
        == []
    )
    velocity = conf.AppSettings().FRAUD_VELOCITY  # the defaults: nothing is set in tests
    rendered = ", ".join(f'"{key}": {value}' for key, value in velocity.items())
    assert "``{" + rendered + "}``" in rst


SAMPLE_FRAUD_RST = """
.. list-table::

   * - Signal
     - Score
   * - ``same_user``
     - 100
   * - ``same_ip``
     - 40

* ``pkg.checks.same_person``
* ``pkg.checks.same_network``

``fraud_review_score`` (default ``50``)
   Review.
"""
SAMPLE_SCORES = {"same_user": 100, "same_ip": 40}
SAMPLE_PATHS = ("pkg.checks.same_person", "pkg.checks.same_network")
SAMPLE_DEFAULTS = {"fraud_review_score": "50"}


def test_fraud_doc_check_accepts_a_matching_page():
    assert fraud_doc_problems(SAMPLE_FRAUD_RST, SAMPLE_SCORES, SAMPLE_PATHS, SAMPLE_DEFAULTS) == []


@pytest.mark.parametrize(
    ("scores", "paths", "defaults", "expected"),
    [
        (
            {**SAMPLE_SCORES, "velocity": 50},
            SAMPLE_PATHS,
            SAMPLE_DEFAULTS,
            "signal velocity is not in the signals table",
        ),
        (
            {**SAMPLE_SCORES, "same_ip": 30},
            SAMPLE_PATHS,
            SAMPLE_DEFAULTS,
            "signal same_ip: the page says 40, the code 30",
        ),
        (
            {"same_user": 100},
            SAMPLE_PATHS,
            SAMPLE_DEFAULTS,
            "the signals table lists same_ip, which no default check reports",
        ),
        (
            SAMPLE_SCORES,
            (*SAMPLE_PATHS, "pkg.checks.velocity"),
            SAMPLE_DEFAULTS,
            "check pkg.checks.velocity is not named",
        ),
        (
            SAMPLE_SCORES,
            SAMPLE_PATHS,
            {"fraud_review_score": "60"},
            "fraud_review_score: the page says '50', the code '60'",
        ),
        (
            SAMPLE_SCORES,
            SAMPLE_PATHS,
            {**SAMPLE_DEFAULTS, "review_days": "7"},
            "review_days: the page says None, the code '7'",
        ),
    ],
    ids=["signal-missing", "score-differs", "signal-extra", "check-missing", "threshold", "field"],
)
def test_fraud_doc_check_reports_mismatches(scores, paths, defaults, expected):
    assert expected in fraud_doc_problems(SAMPLE_FRAUD_RST, scores, paths, defaults)


# --- quickstart --------------------------------------------------------------------------


def named_code_block(rst: str, name: str) -> str:
    lines = rst.splitlines()
    for index, line in enumerate(lines):
        if line.strip() != f":name: {name}":
            continue
        body = []
        for following in lines[index + 1 :]:
            if following.strip() and not following.startswith("   "):
                break
            if following.strip().startswith(":") and not body:
                continue  # another option line
            body.append(following)
        return textwrap.dedent("\n".join(body)).strip() + "\n"
    raise AssertionError(f"no code block named {name!r}")


@pytest.mark.django_db
def test_quickstart_code_runs(capsys):
    from django_referral_rewards import testing
    from django_referral_rewards.services import ledger

    rst = QUICKSTART_RST.read_text(encoding="utf-8")
    user = testing.make_user()
    namespace = {"user": user}
    exec(compile(named_code_block(rst, "quickstart-example"), "quickstart", "exec"), namespace)
    assert capsys.readouterr().out == "", "the happy path should not reach the except branch"
    exec(compile(named_code_block(rst, "quickstart-more"), "quickstart-more", "exec"), namespace)
    assert ledger.balance(user) == 20 + 50
    assert ledger.balance(user, unit="credit") == 500


# --- the whole build -----------------------------------------------------------------------


def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    status, warnings = _build(DOCS, tmp_path / "html", "-d", str(tmp_path / "doctrees"))
    assert status == 0, warnings
    settings_html = (tmp_path / "html" / "reference" / "settings.html").read_text(encoding="utf-8")
    for name in conf.known_setting_names():
        assert f'id="std-setting-{name}"' in settings_html, name
