"""Events per second through the alert engine alone (collector.alerts.AlertEngine.observe),
the sans-I/O core of the alerts sink, on one core; CPU time of this process, so that
other work on the machine slows the answer less than it would a wall clock.

    python bench/alerts_engine.py [--events 1000000] [--batch 1000] [--rounds 3]

The issue's setup: 10k watched heartbeat keys (100 apps x 100 hosts, ttl 30 s) and 100
threshold rules (``svc<i>.latency`` by host, windows of 60 s, values up to 1000 with 1
in 10k a spike past the warning bound), with a status rule over every event that
carries a ``status`` (1 in 100). Each row is a stream of its own:

- heartbeats only;
- threshold events only, every rule on ``last``;
- threshold events only, the rules a quarter each on last, mean, max and p99 (the
  percentile keeps its samples; the others keep 60 buckets a window);
- the issue's: half heartbeats, half threshold events (the mixed rules);
- a busier collector's: a tenth heartbeats, a tenth threshold events (the mixed rules),
  the rest events of 1000 names no rule takes (``web<n>.requests`` by host).

In the first four every event is some rule's: the worst case, since an event no rule
takes costs a dict lookup. The clock moves 5 ms a batch of 1000 events (200k events/s of
simulated time, 20 a second per threshold key); keys are made and windows filled with
200k events before the timing; the timed batches then come from a pool of 20 drawn as
the rest, in turn (a sink's batches are fresh from its decoder, in the cache: a million
events drawn beforehand would be cold memory, and measure that). Percentile windows hold
about 100 samples a key in the run (a steady minute at that rate would hold 1,200, and
cost more per insertion). Each row gives events/s (the best of ``--rounds``) and its
ratio to the goal the issue sets for the whole sink, 200k events/s: the engine must be
well above it, as the sink's queue, its outputs and numbatd's decoding share the core.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/ must not shadow packages

from collector.alerts import AlertEngine, AlertRule, HeartbeatRule, StatusRule, ThresholdRule  # noqa: E402

GOAL = 200_000  # events/s, the whole alerts sink (issue 17)
APPS, HOSTS, RULES = 100, 100, 100
POOL = 20  # batches drawn, then handed in turn
Event = dict[str, object]


def rules(statistics: tuple[str, ...]) -> list[AlertRule]:
    found: list[AlertRule] = [HeartbeatRule(name="heartbeats", default_ttl=30.0), StatusRule(name="status")]
    for i in range(RULES):
        found.append(
            ThresholdRule(
                name=f"latency{i}",
                match=f"svc{i}.latency",
                statistic=statistics[i % len(statistics)],
                window=60.0,
                warning_above=1500.0,
                critical_above=3000.0,
            )
        )
    return found


def heartbeats(rng: random.Random, count: int) -> list[Event]:
    return [
        {"name": f"app{rng.randrange(APPS)}.heartbeat", "host": f"h{rng.randrange(HOSTS)}", "ttl": 30_000, "value": 1}
        for _ in range(count)
    ]


def metrics(rng: random.Random, count: int) -> list[Event]:
    out: list[Event] = []
    for i in range(count):
        event: Event = {
            "name": f"svc{rng.randrange(RULES)}.latency",
            "host": f"h{rng.randrange(HOSTS)}",
            "value": 2000.0 if rng.random() < 1e-4 else rng.random() * 1000,  # a rare spike past warning
        }
        if i % 100 == 0:
            event["status"] = "ok"
        out.append(event)
    return out


def others(rng: random.Random, count: int) -> list[Event]:
    return [{"name": f"web{rng.randrange(1000)}.requests", "host": f"h{rng.randrange(HOSTS)}"} for _ in range(count)]


def stream(kind: str, total: int, seed: int) -> list[Event]:
    rng = random.Random(seed)
    if kind == "heartbeats":
        return heartbeats(rng, total)
    if kind == "thresholds":
        return metrics(rng, total)
    if kind == "mixed":
        mixed = heartbeats(rng, total // 2) + metrics(rng, total - total // 2)
    else:
        tenth = total // 10
        mixed = heartbeats(rng, tenth) + metrics(rng, tenth) + others(rng, total - 2 * tenth)
    rng.shuffle(mixed)
    return mixed


def batches(events: list[Event], size: int) -> Iterator[list[Event]]:
    for start in range(0, len(events), size):
        yield events[start : start + size]


def run(kind: str, statistics: tuple[str, ...], total: int, batch: int) -> tuple[float, AlertEngine]:
    engine = AlertEngine(rules(statistics))
    now = 1_700_000_000_000
    for chunk in batches(stream(kind, 200_000, seed=2), batch):
        engine.observe(chunk, now)
        now += 5
    # a sink's batches are fresh from the decoder, in the cache: a pool of them, in turn
    pool = list(batches(stream(kind, POOL * batch, seed=1), batch))
    rounds = max(1, total // batch)
    start = time.process_time()
    for i in range(rounds):
        engine.observe(pool[i % POOL], now)
        now += 5
    total = rounds * batch
    return total / (time.process_time() - start), engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    mixed = ("last", "mean", "max", "p99")
    rows = (
        ("heartbeats", ("last",), "heartbeats only"),
        ("thresholds", ("last",), "thresholds, last"),
        ("thresholds", mixed, "thresholds, last/mean/max/p99"),
        ("mixed", mixed, "half each (the issue's)"),
        ("busy", mixed, "a tenth each, the rest no rule's"),
    )
    print(f"AlertEngine.observe, {args.events:,} events in batches of {args.batch:,}, best of {args.rounds}")
    print(f"{'stream':<32} {'keys':>7} {'events/s':>10} {'x goal':>7}")
    for kind, statistics, label in rows:
        best, keys = 0.0, 0
        for _ in range(args.rounds):
            rate, engine = run(kind, statistics, args.events, args.batch)
            best, keys = max(best, rate), sum(engine.watched().values())
        print(f"{label:<32} {keys:>7,} {best:>10,.0f} {best / GOAL:>6.1f}x")
    print(f"goal for the whole sink: {GOAL:,} events/s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (the engines and their event lists): {peak:.1f} MB")


if __name__ == "__main__":
    main()
