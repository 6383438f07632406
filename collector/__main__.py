"""``python -m collector``: numbatd, as the ``numbatd`` command runs it (its extra checked first)."""

import sys

from numbat_launcher import numbatd

sys.exit(numbatd())
