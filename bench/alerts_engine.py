"""Events per second through the alert engine alone (collector.alerts.AlertEngine.observe),
the sans-I/O core of the alerts sink, on one core.

    python bench/alerts_engine.py [--events 1000000] [--batch 1000] [--rounds 3]

The rules are the issue's: 10k watched heartbeat keys (100 apps x 100 hosts, ttl 30 s)
and 100 threshold rules (``svc<i>.latency`` per host; a quarter each on last, mean, max
and p99 over 60 s; values up to 1000, 1 in 10k a spike past the warning bound), with a
status rule over every event that carries a ``status``. The stream: half heartbeats, half metric events of the
threshold rules over 100 hosts (10k threshold keys), 1 in 100 with a ``status``; the
clock moves 5 ms a batch of 1000 (200k events/s of simulated time, so windows hold
their steady-state samples). Keys are made (and windows filled) before the timing.

Rows: each mix alone and together, events/s (best of ``--rounds``) and the ratio to
the goal the issue sets for the whole sink (200k events/s): the engine must be well
above it, since the sink's queue, decoding and outputs share the core.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/ must not shadow packages

from collector.alerts import AlertEngine, AlertRule, HeartbeatRule, StatusRule, ThresholdRule  # noqa: E402

GOAL = 200_000  # events/s, the whole alerts sink (issue 17)
APPS, HOSTS, RULES = 100, 100, 100
STATISTICS = ("last", "mean", "max", "p99")


def rules() -> list[AlertRule]:
    found: list[AlertRule] = [HeartbeatRule(name="heartbeats", default_ttl=30.0), StatusRule(name="status")]
    for i in range(RULES):
        found.append(
            ThresholdRule(
                name=f"latency{i}",
                match=f"svc{i}.latency",
                statistic=STATISTICS[i % len(STATISTICS)],
                window=60.0,
                warning_above=1500.0,
                critical_above=3000.0,
            )
        )
    return found


def heartbeats(rng: random.Random, count: int) -> list[dict[str, object]]:
    return [
        {"name": f"app{rng.randrange(APPS)}.heartbeat", "host": f"h{rng.randrange(HOSTS)}", "ttl": 30_000, "value": 1}
        for _ in range(count)
    ]


def metrics(rng: random.Random, count: int) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i in range(count):
        event: dict[str, object] = {
            "name": f"svc{rng.randrange(RULES)}.latency",
            "host": f"h{rng.randrange(HOSTS)}",
            "value": 2000.0 if rng.random() < 1e-4 else rng.random() * 1000,  # a rare spike over warning
        }
        if i % 100 == 0:
            event["status"] = "ok"
        out.append(event)
    return out


def stream(kind: str, total: int, seed: int = 1) -> list[dict[str, object]]:
    rng = random.Random(seed)
    if kind == "heartbeats":
        return heartbeats(rng, total)
    if kind == "thresholds":
        return metrics(rng, total)
    mixed = heartbeats(rng, total // 2) + metrics(rng, total - total // 2)
    rng.shuffle(mixed)
    return mixed


def batches(events: list[dict[str, object]], size: int) -> Iterator[list[dict[str, object]]]:
    for start in range(0, len(events), size):
        yield events[start : start + size]


def run(kind: str, total: int, batch: int) -> tuple[float, AlertEngine]:
    engine = AlertEngine(rules())
    now = 1_700_000_000_000
    # make every key and fill the windows (60 s of simulated time at this rate is more
    # than the run, so the fill is what the run itself keeps adding to)
    for chunk in batches(stream(kind, 200_000, seed=2), batch):
        engine.observe(chunk, now)
        now += 5
    events = stream(kind, total)
    chunks = list(batches(events, batch))
    start = time.process_time()
    for chunk in chunks:
        engine.observe(chunk, now)
        now += 5
    elapsed = time.process_time() - start
    return total / elapsed, engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"AlertEngine.observe, {args.events:,} events in batches of {args.batch:,}, best of {args.rounds}")
    print(f"{'stream':<34} {'keys':>8} {'events/s':>12} {'x goal':>8}")
    for kind, label in (
        ("heartbeats", "heartbeats (10k keys)"),
        ("thresholds", "100 threshold rules (10k keys)"),
        ("mixed", "both, half each (20k keys)"),
    ):
        best, engine = 0.0, None
        for _ in range(args.rounds):
            rate, engine = run(kind, args.events, args.batch)
            best = max(best, rate)
        assert engine is not None
        keys = sum(engine.watched().values())
        print(f"{label:<34} {keys:>8,} {best:>12,.0f} {best / GOAL:>7.1f}x")
    print(f"goal for the whole sink: {GOAL:,} events/s")


if __name__ == "__main__":
    main()
