"""Real Node peers from the npm registry, installed into a temporary folder per test run
(no package.json or lock file of ours records where they came from)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

NUMBAT_EMITTER = "numbat-emitter@5.2.4"
HOT_SHOTS = "hot-shots@17.1.1"


def npm_install(folder: Path, *packages: str) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed; ./run-tests installs it")
    subprocess.run(
        [npm, "install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund", "--loglevel=error", *packages],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return folder / "node_modules"


#: Sends COUNT events through numbat-emitter to URI (the last two arguments), waits until its streams are
#: empty, then closes. Paced in bursts, as a busy Node service would emit.
EMIT_SCRIPT = r"""
const Emitter = require('numbat-emitter');
const [uri, countText] = process.argv.slice(-2), count = Number(countText);
const e = new Emitter({ uri, app: 'nodeapp', node: 'node-1', maxbacklog: count + 10, shouldUnref: false });
let i = 0;
function burst() {
  for (let j = 0; j < 200 && i < count; j++, i++) e.metric({ name: 'm', value: i, tag: 'x' + (i % 3) });
  if (i < count) setImmediate(burst); else setTimeout(finish, 100);
}
// numbat-emitter's streams are readable-stream 2: their buffers show only in the states.
const buffered = s => (s && s._readableState ? s._readableState.length : 0) +
  (s && s._writableState ? s._writableState.length : 0);
function drained() {
  return (e.backlog ? e.backlog.length : 0) === 0 && buffered(e.input) === 0 && buffered(e.output) === 0 &&
    buffered(e.client) === 0;
}
function finish() {
  if (!drained()) return setTimeout(finish, 50);
  e.destroy();
  setTimeout(() => process.exit(0), 300);
}
burst();
"""


#: Sends the events of a JSON list (the last argument) through numbat-emitter to URI, one
#: metric() each, in order, waits until its streams are empty, then closes.
EVENTS_SCRIPT = r"""
const Emitter = require('numbat-emitter');
const [uri, eventsText] = process.argv.slice(-2);
const e = new Emitter({ uri, app: 'nodeapp', node: 'node-1', shouldUnref: false });
for (const event of JSON.parse(eventsText)) e.metric(event);
const buffered = s => (s && s._readableState ? s._readableState.length : 0) +
  (s && s._writableState ? s._writableState.length : 0);
function finish() {
  if ((e.backlog ? e.backlog.length : 0) || buffered(e.input) || buffered(e.output) || buffered(e.client))
    return setTimeout(finish, 50);
  e.destroy();
  setTimeout(() => process.exit(0), 300);
}
setTimeout(finish, 100);
"""


def run_node_events(node_modules: Path, uri: str, events_json: str) -> subprocess.CompletedProcess[str]:
    return run_node(node_modules, EVENTS_SCRIPT, uri, events_json)


def run_node_emitter(node_modules: Path, uri: str, count: int) -> subprocess.CompletedProcess[str]:
    return run_node(node_modules, EMIT_SCRIPT, uri, str(count))


def run_node(node_modules: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``node -e script -- args...`` beside ``node_modules``."""
    node = shutil.which("node")
    assert node is not None
    return subprocess.run(
        [node, "-e", script, "--", *args],
        cwd=node_modules.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )


#: Etsy's statsd, the reference the aggregation is checked against (test_aggregate_statsd.py).
ETSY_STATSD = "statsd@0.9.0"
