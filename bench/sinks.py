"""Every remote sink against its real server, in one run: points/s that numbatd delivers
through the sink beside the same server written directly (pre-built bodies on a socket
for carbon; for remote write, a plain Python client's protobuf POSTs, and Prometheus alone
taking pre-built ones), with the CPU µs per point of
numbatd and of the server; then the prometheus sink's own costs (it has no server to
write to: Prometheus scrapes it).

    python bench/sinks.py [--seconds 5] [--rounds 3]

Each part is a bench of its own (bench/sinks_graphite.py, bench/sinks_remote_write.py,
bench/sinks_prometheus.py, each runnable alone, each with its method in its docstring);
this script runs their ``measure()`` one after the other and prints one table.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/ must not shadow packages


def bench(name: str) -> ModuleType:
    """One of the sink benches beside this file, loaded by its path."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def delivery_rows(seconds: float, rounds: int) -> list[dict[str, Any]]:
    graphite = bench("sinks_graphite").measure(seconds, rounds)
    remote_write = bench("sinks_remote_write").measure(seconds, rounds)
    return [*graphite, *remote_write]


def print_delivery(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'sink':26} {'path':44} {'points/s':>10} {'vs direct':>10} {'server us/pt':>13} {'numbatd us/pt':>14} "
        f"{'numbatd peak MB':>16}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        path = str(row["path"])
        if "protocol" in row:
            path = f"{path} ({row['protocol']})"
        numbatd = row.get("numbatd_us_per_point")
        numbatd_text = f"{numbatd:14.2f}" if numbatd and "direct" not in path else f"{'-':>14}"
        peak = row.get("numbatd_peak_mb")
        peak_text = f"{peak:16.1f}" if peak else f"{'-':>16}"
        print(
            f"{row['sink']:26} {path:44} {row['points_per_s']:10,.0f} {row['vs_direct']:9.2f}x "
            f"{row['server_us_per_point']:13.2f} {numbatd_text} {peak_text}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="about how long each run takes")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each path (medians)")
    args = parser.parse_args()
    rows = delivery_rows(args.seconds, args.rounds)
    prometheus = bench("sinks_prometheus")
    exposition = prometheus.measure(args.seconds)
    print_delivery(rows)
    print()
    print("prometheus (exposition): the sink's own costs")
    prometheus.print_rows(exposition)


if __name__ == "__main__":
    main()
