#!/usr/bin/env python
"""Django's command-line utility for the example project.

Run from anywhere: ``python example_project/manage.py migrate``.
"""

import os
import sys
from pathlib import Path


def main() -> None:
    here = Path(__file__).resolve().parent
    # The project is the package ``example_project``: import it from the repository
    # root, never as top-level ``settings`` / ``shop`` modules from this folder.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.path.insert(0, str(here.parent))
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        os.environ["DJANGO_SETTINGS_MODULE"] = "example_project.settings"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
