"""The ``alerts`` sink: rules over the event stream, incidents and their notifications,
in numbatd (collector.alerts is the engine and the outputs; this is the shell on trio).

Modules: ``_options.py`` (the keys, the rules' and outputs' tables built and checked),
``_sink.py`` (the sink: the engine fed and ticked, the outputs run, the state saved),
``_state.py`` (the state in SQLite under ``state_dir``), ``_server.py`` (the API's
HTTP server, h11) and ``_api.py`` (its routes and JSON: incidents, silences).
"""

from ._options import AlertsOptions, OutputSpec
from ._sink import AlertsSink

__all__ = ["AlertsOptions", "AlertsSink", "OutputSpec"]
