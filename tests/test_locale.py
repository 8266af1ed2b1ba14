"""The package is translatable, and ships a complete French translation.

- the compiled ``django.mo`` says exactly what the ``django.po`` says (nobody forgot
  ``compilemessages``), and the ``.po`` passes ``msgfmt --check``;
- no entry of the ``.po`` is untranslated or fuzzy, and each translation keeps the
  placeholders of its ``msgid``;
- every string the package marks for translation today is in the catalog (a fresh
  ``makemessages`` over a copy of the package finds nothing the ``.po`` lacks, and the
  ``.po`` holds nothing the code no longer marks);
- with French active, a portal page and a service's error message come out in French.

Each language under ``locale/`` gets the same checks as French, so a contributed
catalog is held to the same standard.

To update the catalog after changing strings, in ``django_referral_rewards/``::

    django-admin makemessages -l fr --no-location --no-obsolete -i "migrations/*"
    # translate the new entries, then
    django-admin compilemessages
"""

from __future__ import annotations

import ast
import dataclasses
import gettext
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import translation

import django_referral_rewards
from django_referral_rewards import exceptions, testing
from django_referral_rewards.models import Program, RewardOption
from django_referral_rewards.services import redemptions

PACKAGE = Path(django_referral_rewards.__file__).resolve().parent
LOCALE = PACKAGE / "locale"
FR_PO = LOCALE / "fr" / "LC_MESSAGES" / "django.po"
FR_MO = LOCALE / "fr" / "LC_MESSAGES" / "django.mo"


# -- a small reader of .po files (the test suite has no gettext library to lean on) --


@dataclasses.dataclass
class Entry:
    msgid: str
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = dataclasses.field(default_factory=dict)
    flags: set[str] = dataclasses.field(default_factory=set)
    line: int = 0

    @property
    def key(self) -> tuple[str | None, str, str | None]:
        return (self.msgctxt, self.msgid, self.msgid_plural)

    def label(self) -> str:
        text = repr(self.msgid)
        if self.msgid_plural is not None:
            text += f" / {self.msgid_plural!r}"
        if self.msgctxt is not None:
            text = f"[{self.msgctxt}] {text}"
        return text


_KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")\s*$")


def read_po(path: Path) -> list[Entry]:
    """The entries of the ``.po`` at ``path`` (the header included, obsolete ``#~``
    entries left out). Raises ``ValueError`` on a line it does not understand."""
    entries: list[Entry] = []
    current: Entry | None = None
    field: tuple[str, int] | None = None
    flags: set[str] = set()

    def finish() -> None:
        nonlocal current
        if current is not None:
            entries.append(current)
        current = None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            field = None
            continue
        if line.startswith("#~"):
            continue
        if line.startswith("#,"):
            finish()
            flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
            continue
        if line.startswith("#"):
            continue
        match = _KEYWORD.match(line)
        if match:
            keyword, index, literal = match.groups()
            text = ast.literal_eval(literal)
            if keyword in ("msgctxt", "msgid") and (
                current is None or current.msgstr or keyword == "msgctxt"
            ):
                finish()
                current = Entry(msgid="", flags=flags, line=number)
                flags = set()
            if current is None:
                raise ValueError(f"{path}:{number}: {keyword} outside an entry")
            if keyword == "msgctxt":
                current.msgctxt = text
                field = ("msgctxt", 0)
            elif keyword == "msgid":
                current.msgid = text
                field = ("msgid", 0)
            elif keyword == "msgid_plural":
                current.msgid_plural = text
                field = ("msgid_plural", 0)
            else:
                slot = int(index) if index is not None else 0
                current.msgstr[slot] = text
                field = ("msgstr", slot)
            continue
        if line.startswith('"') and current is not None and field is not None:
            text = ast.literal_eval(line)
            name, slot = field
            if name == "msgstr":
                current.msgstr[slot] += text
            else:
                setattr(current, name, (getattr(current, name) or "") + text)
            continue
        raise ValueError(f"{path}:{number}: cannot read {raw!r}")
    finish()
    return entries


def messages_of(entries: list[Entry]) -> list[Entry]:
    """``entries`` without the header."""
    return [entry for entry in entries if entry.msgid or entry.msgctxt is not None]


def catalog_of(entries: list[Entry]) -> dict[object, str]:
    """What :class:`gettext.GNUTranslations` makes of a ``.mo`` compiled from
    ``entries``: untranslated and fuzzy entries are not compiled; a plural entry is
    one key per form."""
    catalog: dict[object, str] = {}
    for entry in messages_of(entries):
        if "fuzzy" in entry.flags or not all(entry.msgstr.values()):
            continue
        msgid = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is None:
            catalog[msgid] = entry.msgstr[0]
        else:
            for index, text in entry.msgstr.items():
                catalog[(msgid, index)] = text
    return catalog


_PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]")


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


# -- the shipped catalog --


def test_the_po_reader_reads_what_it_is_given(tmp_path: Path) -> None:
    po = tmp_path / "sample.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: fr\\n"\n\n'
        'msgid "One"\nmsgstr "Un"\n\n'
        '#, fuzzy, python-format\nmsgid "%(n)s apple"\nmsgid_plural "%(n)s apples"\n'
        'msgstr[0] "%(n)s pomme"\nmsgstr[1] ""\n"%(n)s pommes"\n\n'
        'msgctxt "month"\nmsgid "May"\nmsgstr ""\n\n'
        '#~ msgid "Gone"\n#~ msgstr "Parti"\n',
        encoding="utf-8",
    )
    header, one, apples, may = read_po(po)
    assert header.msgid == "" and header.msgstr == {0: "Language: fr\n"}
    assert (one.msgid, one.msgstr, one.flags) == ("One", {0: "Un"}, set())
    assert apples.flags == {"fuzzy", "python-format"}
    assert apples.msgstr == {0: "%(n)s pomme", 1: "%(n)s pommes"}
    assert (may.msgctxt, may.msgid, may.msgstr) == ("month", "May", {0: ""})
    # Fuzzy and untranslated entries are not compiled.
    assert catalog_of([header, one, apples, may]) == {"One": "Un"}
    (tmp_path / "broken.po").write_text('msgid "x"\nnonsense\n', encoding="utf-8")
    with pytest.raises(ValueError, match="cannot read"):
        read_po(tmp_path / "broken.po")


def shipped_languages() -> list[str]:
    """Every language the package has a catalog for (a contributed one gets the same
    checks as French)."""
    return sorted(p.name for p in LOCALE.iterdir() if (p / "LC_MESSAGES" / "django.po").is_file())


def po_of(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "django.po"


def test_the_package_ships_a_french_catalog() -> None:
    assert "fr" in shipped_languages()
    assert FR_PO.is_file() and FR_MO.is_file()
    header = read_po(FR_PO)[0].msgstr[0]
    assert "Language: fr\n" in header
    assert "Plural-Forms: nplurals=2; plural=(n > 1);" in header


@pytest.mark.parametrize("language", shipped_languages())
def test_the_catalog_header_is_complete(language: str) -> None:
    entries = read_po(po_of(language))
    header = entries[0].msgstr[0]
    assert entries[0].msgid == "" and "fuzzy" not in entries[0].flags
    assert f"Language: {language}\n" in header
    assert "Content-Type: text/plain; charset=UTF-8\n" in header
    assert "Plural-Forms: nplurals=" in header
    assert "Project-Id-Version: django-referral-rewards" in header


@pytest.mark.parametrize("language", shipped_languages())
def test_the_mo_file_is_compiled_from_the_current_po(language: str) -> None:
    with po_of(language).with_suffix(".mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    expected = catalog_of(read_po(po_of(language)))
    catalog = compiled._catalog  # type: ignore[attr-defined]
    shipped = {key: value for key, value in catalog.items() if key != ""}
    stale = sorted(repr(key) for key in expected if shipped.get(key) != expected[key])
    extra = sorted(repr(key) for key in shipped if key not in expected)
    assert not stale and not extra, (
        f"locale/{language}/LC_MESSAGES/django.mo is out of date with its django.po; run "
        "`django-admin compilemessages` in django_referral_rewards/. "
        f"Differing: {stale[:20]}; only in the .mo: {extra[:20]}"
    )
    assert compiled.info()["language"] == language


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext's msgfmt is not installed")
@pytest.mark.parametrize("language", shipped_languages())
def test_the_po_passes_msgfmt_check(language: str, tmp_path: Path) -> None:
    """What ``compilemessages`` runs: the format strings of each translation match
    its msgid's, the header is complete, plural forms are consistent."""
    result = subprocess.run(
        ["msgfmt", "--check", "-o", str(tmp_path / "django.mo"), str(po_of(language))],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("language", shipped_languages())
def test_every_entry_is_translated_and_none_is_fuzzy(language: str) -> None:
    entries = read_po(po_of(language))
    header = entries[0].msgstr[0]
    forms = int(re.search(r"nplurals=(\d+)", header).group(1))  # type: ignore[union-attr]
    messages = messages_of(entries)
    assert len(messages) > 1000
    fuzzy = [f"line {e.line}: {e.label()}" for e in messages if "fuzzy" in e.flags]
    empty = [f"line {e.line}: {e.label()}" for e in messages if not all(e.msgstr.values())]
    plural_forms = [
        f"line {e.line}: {e.label()}"
        for e in messages
        if e.msgid_plural is not None and sorted(e.msgstr) != list(range(forms))
    ]
    assert not fuzzy, "fuzzy entries:\n" + "\n".join(fuzzy)
    assert not empty, "untranslated entries:\n" + "\n".join(empty)
    assert not plural_forms, f"plural entries without {forms} forms:\n" + "\n".join(plural_forms)


@pytest.mark.parametrize("language", shipped_languages())
def test_translations_keep_the_placeholders_of_their_msgid(language: str) -> None:
    """A translation that drops or renames ``%(name)s`` would raise ``KeyError`` at run
    time or lose information (``msgfmt --check`` says the same, where it is installed)."""
    wrong = []
    for entry in messages_of(read_po(po_of(language))):
        if "python-format" not in entry.flags:
            continue
        wanted = [placeholders(entry.msgid), placeholders(entry.msgid_plural or entry.msgid)]
        for index, text in entry.msgstr.items():
            if placeholders(text) not in (wanted[min(index, 1)], wanted[0]):
                wrong.append(f"line {entry.line}: {entry.label()} -> {text!r}")
    assert not wrong, "translations whose placeholders differ:\n" + "\n".join(wrong)


@pytest.fixture(scope="module")
def fresh_catalogs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``locale/`` that ``makemessages`` makes today over a copy of the package
    (without its catalogs), for every shipped language."""
    copy = tmp_path_factory.mktemp("package") / "django_referral_rewards"
    shutil.copytree(
        PACKAGE,
        copy,
        ignore=shutil.ignore_patterns("locale", "__pycache__", "*.pyc"),
    )
    (copy / "locale").mkdir()
    here = os.getcwd()
    os.chdir(copy)
    try:
        call_command(
            "makemessages",
            locale=shipped_languages(),
            no_location=True,
            no_obsolete=True,
            ignore_patterns=["migrations/*"],
            verbosity=0,
        )
    finally:
        os.chdir(here)
    return copy / "locale"


@pytest.mark.skipif(
    shutil.which("xgettext") is None or shutil.which("msguniq") is None,
    reason="GNU gettext (xgettext, msguniq) is not installed: cannot run makemessages",
)
@pytest.mark.parametrize("language", shipped_languages())
def test_the_catalog_has_every_string_the_package_marks(
    language: str, fresh_catalogs: Path
) -> None:
    """``makemessages`` over a copy of the package today: every msgid it finds is in
    the shipped ``.po``, and the ``.po`` holds none the code no longer marks."""
    fresh_po = fresh_catalogs / po_of(language).relative_to(LOCALE)
    fresh = {entry.key: entry for entry in messages_of(read_po(fresh_po))}
    shipped = {entry.key: entry for entry in messages_of(read_po(po_of(language)))}
    missing = sorted(fresh[key].label() for key in fresh.keys() - shipped.keys())
    stale = sorted(shipped[key].label() for key in shipped.keys() - fresh.keys())
    assert not missing, (
        f"{len(missing)} string(s) marked for translation are not in "
        f"locale/{language}/LC_MESSAGES/django.po; run makemessages (see this module's "
        "docstring), translate them and compile:\n" + "\n".join(missing)
    )
    assert not stale, (
        f"{len(stale)} entr(y/ies) of locale/{language}/LC_MESSAGES/django.po are no longer "
        "marked in the code; run makemessages (with --no-obsolete) and compilemessages:\n"
        + "\n".join(stale)
    )


# -- French at run time --


FRENCH_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_referral_rewards.middleware.ReferralMiddleware",
]
LANGUAGES = [("en", "English"), ("fr", "Français")]


@pytest.fixture(autouse=True)
def _no_language_left_active() -> Iterator[None]:
    """A language a test activates (LocaleMiddleware does) never leaks into the next."""
    yield
    translation.deactivate()


@pytest.fixture
def member_client(program: Program) -> Client:
    user = testing.make_user("camille")
    testing.make_account(testing.make_member(user), program=program, points=40)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
@override_settings(LANGUAGE_CODE="fr", LANGUAGES=LANGUAGES)
def test_the_portal_dashboard_speaks_french_when_the_site_does(member_client: Client) -> None:
    page = member_client.get("/portal/").content.decode()
    assert "<h1>Vos récompenses</h1>" in page
    assert "Partagez votre code" in page
    assert "Your rewards" not in page and "Share your code" not in page


@pytest.mark.django_db
@override_settings(MIDDLEWARE=FRENCH_MIDDLEWARE, LANGUAGE_CODE="en", LANGUAGES=LANGUAGES)
def test_the_portal_follows_the_browser_language_with_locale_middleware(
    member_client: Client,
) -> None:
    french = member_client.get("/portal/", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")
    assert french["Content-Language"] == "fr"
    assert "<h1>Vos récompenses</h1>" in french.content.decode()
    english = member_client.get("/portal/", HTTP_ACCEPT_LANGUAGE="en")
    assert "<h1>Your rewards</h1>" in english.content.decode()


@pytest.mark.django_db
def test_service_errors_are_in_the_active_language(program: Program) -> None:
    account = testing.make_account(program=program, points=40)
    option = RewardOption.objects.create(
        program=program, name="Lavage offert", points_cost=100, kind="item"
    )
    with translation.override("fr"), pytest.raises(exceptions.InsufficientBalance) as french:
        redemptions.available(option, account)
    assert str(french.value) == "Vous avez 40 points\u00a0; cette récompense coûte 100."
    with translation.override("en"), pytest.raises(exceptions.InsufficientBalance) as english:
        redemptions.available(option, account)
    assert str(english.value) == "You have 40 points; this reward costs 100."


def test_model_labels_and_plurals_are_translated() -> None:
    from django.utils.translation import ngettext

    from django_referral_rewards.models import Redemption

    with translation.override("fr"):
        assert str(Redemption._meta.verbose_name) == "échange"
        assert ngettext("%(n)d point", "%(n)d points", 1) % {"n": 1} == "1 point"
        # French uses the singular for 0 and 1 (plural=(n > 1)).
        assert ngettext("%(n)d redemption", "%(n)d redemptions", 0) % {"n": 0} == "0 échange"
        assert ngettext("%(n)d redemption", "%(n)d redemptions", 2) % {"n": 2} == "2 échanges"
