"""``python -m log_parser``: the ``numbat-logs`` command, as it runs (its extra checked first)."""

import sys

from numbat_launcher import numbat_logs

sys.exit(numbat_logs())
