"""Check a freshly built wheel (and sdist) of django-referral-rewards.

Usage: ``python scripts/check_wheel.py DIST_DIR`` (what ``tox -e build`` runs after
``python -m build --outdir DIST_DIR``).

1. The wheel holds what a host needs at run time: ``migrations/0001_initial.py``,
   ``py.typed``, the ``templates/`` and ``static/`` folders, and every data file of the
   source tree (templates, static, locale, migrations), and nothing outside the
   package (no tests, no example project).
2. The sdist holds README.md, CHANGELOG.md and LICENSE.
3. The wheel installs into a brand-new venv (its dependencies from the index), and from
   a directory outside the source tree every module of the package imports (but the
   REST API, which without the ``api`` extra must refuse with a clear message), Django
   sets up with the app installed, the system checks pass and the migrations apply.

Standard library only. Exits non-zero with a list of what is wrong.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
import venv
import zipfile
from pathlib import Path

PACKAGE = "django_referral_rewards"
ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / PACKAGE
REQUIRED = [
    f"{PACKAGE}/migrations/0001_initial.py",
    f"{PACKAGE}/py.typed",
    # Compiled translations: hosts do not run compilemessages on installed packages.
    f"{PACKAGE}/locale/fr/LC_MESSAGES/django.mo",
]
REQUIRED_DIRS = [f"{PACKAGE}/templates/", f"{PACKAGE}/static/"]
DATA_DIRS = ["templates", "static", "locale", "migrations"]
SDIST_REQUIRED = ["README.md", "CHANGELOG.md", "LICENSE", "setup.cfg", "pyproject.toml"]

# Runs inside the fresh venv, with a temporary directory as the working directory.
IMPORT_CHECK = """
import importlib, pathlib, pkgutil, sys
import django
from django.conf import settings

settings.configure(
    SECRET_KEY="check-wheel",
    USE_TZ=True,
    INSTALLED_APPS=[
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "import_export",
        "django_referral_rewards",
    ],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ],
    TEMPLATES=[{
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": [
            "django.template.context_processors.request",
            "django.contrib.auth.context_processors.auth",
            "django.contrib.messages.context_processors.messages",
        ]},
    }],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
)
django.setup()

import django_referral_rewards as pkg

where = pathlib.Path(pkg.__file__).resolve()
if "site-packages" not in where.parts:
    sys.exit(f"imported from {where}, not from the installed wheel")
# The REST API needs the api extra (not installed here): it must say so, and nothing
# else may need it.
from django.core.exceptions import ImproperlyConfigured
try:
    importlib.import_module(pkg.__name__ + ".api")
except ImproperlyConfigured as exc:
    assert "django-referral-rewards[api]" in str(exc), exc
else:
    sys.exit("django_referral_rewards.api imported without Django REST framework")
names = []
def walk(package):
    names.append(package.__name__)
    for m in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        if m.name.endswith((".migrations", ".api")):
            continue
        module = importlib.import_module(m.name)
        if m.ispkg:
            walk(module)
        else:
            names.append(m.name)
walk(pkg)

from django.core.management import call_command
call_command("check", fail_level="ERROR")
call_command("migrate", verbosity=0, interactive=False)
from django_referral_rewards.models import Program
assert Program.objects.exists(), "the data migration created no default program"
print(f"imported {len(names)} modules of {pkg.__name__} {pkg.__version__} from {where.parent}")
"""


def fail(problems: list[str]) -> None:
    print("check_wheel: FAILED", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    sys.exit(1)


def only(dist: Path, pattern: str) -> Path:
    found = sorted(dist.glob(pattern))
    if len(found) != 1:
        fail([f"expected exactly one {pattern} in {dist}, found {[p.name for p in found]}"])
    return found[0]


def source_data_files() -> list[str]:
    """Data files of the source tree that must ship: everything in the data folders,
    and every file that is not Python source anywhere else in the package (such as
    the fraud checks' disposable domains list), except hidden files and bytecode."""
    files = [
        path.relative_to(ROOT).as_posix()
        for path in SOURCE.rglob("*")
        if path.is_file()
        and path.suffix not in (".py", ".pyc")
        and not path.name.startswith(".")
        and "__pycache__" not in path.parts
        and path.relative_to(SOURCE).parts[0] not in DATA_DIRS
    ]
    for folder in DATA_DIRS:
        for path in (SOURCE / folder).rglob("*"):
            rel = path.relative_to(ROOT)
            if path.is_dir() or "__pycache__" in rel.parts:
                continue
            if any(part.startswith(".") for part in rel.parts) or path.suffix == ".pyc":
                continue
            files.append(rel.as_posix())
    return sorted(files)


def check_wheel_contents(wheel: Path) -> list[str]:
    problems = []
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for required in REQUIRED:
        if required not in names:
            problems.append(f"{required} is missing from the wheel")
    for folder in REQUIRED_DIRS:
        if not any(name.startswith(folder) for name in names):
            problems.append(f"the wheel has no {folder} folder")
    for data_file in source_data_files():
        if data_file not in names:
            problems.append(f"{data_file} (in the source tree) is missing from the wheel")
    strays = sorted(
        name for name in names if not name.startswith(f"{PACKAGE}/") and ".dist-info/" not in name
    )
    if strays:
        problems.append(f"files outside the package: {strays[:10]}")
    print(f"check_wheel: {wheel.name}: {len(names)} files", flush=True)
    return problems


def check_sdist_contents(sdist: Path) -> list[str]:
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    problems = [f"{n} is missing from the sdist" for n in SDIST_REQUIRED if n not in names]
    problems += [
        f"{n} is missing from the sdist"
        for n in ("django_referral_rewards/migrations/0001_initial.py",)
        if n not in names
    ]
    print(f"check_wheel: {sdist.name}: {len(names)} files", flush=True)
    return problems


def check_install(wheel: Path) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="check-wheel-") as tmp:
        env_dir = Path(tmp) / "venv"
        venv.create(env_dir, with_pip=True, clear=True)
        bindir = "Scripts" if os.name == "nt" else "bin"
        python = env_dir / bindir / ("python.exe" if os.name == "nt" else "python")
        clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        clean_env["PYTHONDONTWRITEBYTECODE"] = "1"
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
            cwd=tmp,
            env=clean_env,
        )
        if install.returncode:
            return [f"pip install {wheel.name} into a fresh venv failed"]
        run = subprocess.run([str(python), "-c", IMPORT_CHECK], cwd=tmp, env=clean_env)
        if run.returncode:
            return ["the installed wheel does not import/set up/migrate (see above)"]
    return []


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit(__doc__)
    dist = Path(argv[0]).resolve()
    wheel = only(dist, "*.whl")
    sdist = only(dist, "*.tar.gz")
    problems = check_wheel_contents(wheel) + check_sdist_contents(sdist)
    if problems:
        fail(problems)
    problems = check_install(wheel)
    if problems:
        fail(problems)
    print("check_wheel: OK")


if __name__ == "__main__":
    main(sys.argv[1:])
