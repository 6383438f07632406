"""One module per ``numbat-logs`` subcommand, each with ``run(args) -> exit status``.

Strategy: :mod:`log_parser.cli` imports the module of the subcommand it runs and no
other, so each subcommand loads only what it uses (``count``: the core, the reader and
the store; ``serve``: hypercorn, Starlette and the store; ``live``: trio and the emitter;
``backfill``: libcloud and the process pool).
"""
