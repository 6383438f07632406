"""``python -m monitor``: the ``numbat-run`` command, as it runs (its extra checked first)."""

import sys

from numbat_launcher import numbat_run

sys.exit(numbat_run())
