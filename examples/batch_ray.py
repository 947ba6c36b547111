"""Shard `batch.run` across a Ray cluster: one task per shard, each with its own provider, its own
share of the rate limit and its own checkpoint, results gathered back in input order.

    pip install "toolwire[cli]" ray
    python examples/batch_ray.py inputs.jsonl --provider openai --model gpt-4o-mini --shards 4 --rpm 5000

Why these choices:
- A provider instance (its connection pool, its pacer) lives in one process, so each task creates its
  own from `(provider, config)`; nothing unpicklable crosses the wire.
- The provider's rate limit is per key, not per machine: each shard gets `rpm / shards` (and
  `tpm / shards`), so the cluster as a whole stays under the limit. Each shard's pacer still adapts to
  the rate-limit headers and 429s it sees.
- Each shard appends to its own checkpoint file (`<prefix>.shard<k>.jsonl`, on storage the workers
  share), so a rerun after a crash, of the driver or of a worker, sends only what is missing.
- Shards are contiguous slices of the inputs, so concatenating their results keeps the input order.
  The inputs are materialized on the driver; for inputs larger than memory, give each task a
  reader of its own slice instead (a file path and a line range).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from toolwire import AbstractLLM, batch
from toolwire.batch import _records


def run_shard(
    provider: str,
    config: dict[str, Any],
    inputs: list[Any],
    tools: list[Any],
    checkpoint: str | None,
    options: dict[str, Any],
) -> list[dict[str, Any]]:
    """One shard, in a Ray worker: its results as checkpoint records (JSON, cheap to send back)."""
    llm = AbstractLLM.create(provider, **config)
    try:
        results = batch.run(llm, inputs, tools=tools, checkpoint=checkpoint, progress=False, **options)
    finally:
        llm.close()
    return [_records.record(i, "", r, None) for i, r in enumerate(results)]


def run_on_ray(
    provider: str,
    config: dict[str, Any],
    inputs: list[Any],
    *,
    tools: list[Any] | None = None,
    shards: int = 4,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    checkpoint_prefix: str | None = None,
    **options: Any,
) -> list[Any]:
    """`batch.run` over `shards` Ray tasks; results in input order (GenerateResponse or error)."""
    import ray

    remote = ray.remote(run_shard)
    share = dict(config)
    if requests_per_minute:
        share["requests_per_minute"] = requests_per_minute / shards
    if tokens_per_minute:
        share["tokens_per_minute"] = tokens_per_minute / shards
    size = -(-len(inputs) // shards) or 1
    futures = []
    for k, start in enumerate(range(0, len(inputs), size)):
        checkpoint = f"{checkpoint_prefix}.shard{k}.jsonl" if checkpoint_prefix else None
        futures.append(
            remote.remote(provider, share, inputs[start : start + size], tools or [], checkpoint, options)
        )
    records = [record for shard in ray.get(futures) for record in shard]
    return [_records.restore(record) for record in records]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("inputs", type=Path)
    parser.add_argument("--provider", default="openai")
    parser.add_argument("--model")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--rpm", type=float)
    parser.add_argument("--checkpoint-prefix")
    parser.add_argument("--address", help="Ray cluster address (default: start a local one)")
    args = parser.parse_args()
    import ray

    ray.init(address=args.address)
    inputs = [json.loads(line) for line in args.inputs.read_text().splitlines() if line.strip()]
    config = {"model": args.model} if args.model else {}
    results = run_on_ray(
        args.provider,
        config,
        inputs,
        shards=args.shards,
        requests_per_minute=args.rpm,
        checkpoint_prefix=args.checkpoint_prefix,
    )
    for result in results:
        sys.stdout.write(json.dumps(getattr(result, "content", None) or f"error: {result}") + "\n")


if __name__ == "__main__":
    main()
