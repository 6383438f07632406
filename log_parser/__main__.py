"""``python -m log_parser``: the ``numbat-logs`` command (:func:`log_parser.cli.main`)."""

import sys

from .cli import main

sys.exit(main())
