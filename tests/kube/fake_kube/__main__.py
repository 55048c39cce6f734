"""`python tests/kube/fake_kube [--moto URL] [--parent-pid PID] | --self-test`"""

import os
import sys

if sys.version_info < (3, 10):
    sys.exit("fake_kube needs Python 3.10 or later (the project's .venv has 3.11)")

if __package__ in (None, ""):
    # Run as a directory (`python tests/kube/fake_kube`): import the package by its name, and keep
    # its own directory off sys.path so none of its modules shadows a standard one.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, os.path.dirname(here))

from fake_kube.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
