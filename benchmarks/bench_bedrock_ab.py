"""Two toolwire source trees beside boto3, interleaved, against one fake Bedrock: is a change faster?

    git archive <commit> src benchmarks | tar -x -C /tmp/before
    PYTHONPATH=src python benchmarks/bench_bedrock_ab.py --before /tmp/before [--rounds 8]

Each round runs, in a shuffled order, a fresh process for the `--before` tree, one for this tree
and one for boto3, each making the bench's Converse call and ConverseStream turn
(`bench_bedrock.py`'s request and answers) in batches, and reporting client CPU (process time) per
call for every batch. On a shared machine a process's CPU time grows with its neighbours' load
(caches and cores are shared), so besides the mean (what `bench_bedrock.py` reports) this prints
the fastest batch and the first quartile of the batches, which move much less with the load; the
ratio to boto3 is taken within each round, then its median and range over the rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STATS = ("min", "p25", "mean")


def contender(root: str, name: str, url: str) -> None:
    sys.path.insert(0, str(Path(root) / "benchmarks"))
    import bench_bedrock as bb

    _, call, stream = (bb._toolwire if name == "toolwire" else bb._boto3)(url)
    out: dict[str, dict[str, float]] = {}
    for kind, fn, batches, size in (("call", call, 40, 10), ("stream", stream, 30, 8)):
        for _ in range(30):
            assert fn() == bb.EXPECTED
        per = []
        for _ in range(batches):
            started = time.process_time()
            for _ in range(size):
                fn()
            per.append((time.process_time() - started) / size * 1e6)
        per.sort()
        out[kind] = {"min": per[0], "p25": per[len(per) // 4], "mean": statistics.fmean(per)}
    print(json.dumps(out))


def _run(root: Path, name: str, url: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    for var in ("AWS_BEARER_TOKEN_BEDROCK", "AWS_PROFILE", "TOOLWIRE_RECORD"):
        env.pop(var, None)
    out = subprocess.run(
        [sys.executable, __file__, "--contender", name, "--root", str(root), "--url", url],
        capture_output=True, text=True, check=True, env=env, timeout=900,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="the other source tree (with src/ and benchmarks/)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--contender")
    parser.add_argument("--root")
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.contender:
        contender(args.root, args.contender, args.url)
        return
    if not args.before:
        parser.error("--before is required")
    trees = {"before": Path(args.before).resolve(), "after": ROOT, "boto3": ROOT}
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "bench_bedrock.py"), "--serve"],
        stdout=subprocess.PIPE,
        text=True,
    )
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        for number in range(1, args.rounds + 1):
            order = list(trees)
            random.shuffle(order)  # a fixed order would give one contender the quieter moments
            for name in order:
                runs[name].append(_run(trees[name], "boto3" if name == "boto3" else "toolwire", url))
            print(f"round {number}: {_round(runs)}", flush=True)
    finally:
        server.terminate()
        server.wait()
    print(_table(runs, args.rounds))


def _round(runs: dict[str, list[dict[str, Any]]]) -> str:
    parts = []
    for kind in ("call", "stream"):
        boto3 = runs["boto3"][-1][kind]["p25"]
        mine = " ".join(f"{n} {runs[n][-1][kind]['p25']:.0f} µs" for n in ("before", "after"))
        parts.append(f"{kind} (p25): {mine}, boto3 {boto3:.0f} µs")
    return "; ".join(parts)


def _table(runs: dict[str, list[dict[str, Any]]], rounds: int) -> str:
    lines = [
        f"{rounds} rounds; client CPU per call, medians over rounds; ratio to boto3 within each round",
        "",
        "| figure | batch statistic | before | after | boto3 | before / boto3 | after / boto3 |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for kind, label in (("call", "Converse call"), ("stream", "ConverseStream turn")):
        for stat in STATS:
            values = {n: [r[kind][stat] for r in runs[n]] for n in runs}
            cells = [f"{statistics.median(values[n]):,.0f} µs" for n in ("before", "after", "boto3")]
            for n in ("before", "after"):
                ratios = [a / b for a, b in zip(values[n], values["boto3"])]
                cells.append(f"{statistics.median(ratios):.3f}× ({min(ratios):.2f}–{max(ratios):.2f})")
            lines.append(f"| {label} | {stat} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
