"""examples/batch_ray.py: batch.run sharded over a local Ray cluster (Ray's `local_mode` is gone
from current Ray, so a real local cluster with two CPUs), against the rate-limited fake server."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ratelimited_server import running

ray = pytest.importorskip("ray")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "batch_ray.py"


def lookup(key: str) -> str:
    """Look a key up."""
    return f"value-of-{key}"


@pytest.fixture(scope="module")
def example() -> Any:
    spec = importlib.util.spec_from_file_location("batch_ray_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cluster(example: Any) -> Iterator[None]:
    # the workers import toolwire from this checkout, and get the example's and this file's
    # functions by value (their modules are not importable there)
    src = str(Path(__file__).resolve().parents[2] / "src")
    ray.cloudpickle.register_pickle_by_value(example)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        runtime_env={"env_vars": {"PYTHONPATH": src}},
    )
    try:
        yield
    finally:
        ray.shutdown()


def test_shards_run_on_ray_in_input_order_and_resume(example: Any, cluster: None, tmp_path: Path) -> None:
    inputs = [f"q{i}" for i in range(40)] + [{"messages": "q40", "temperature": 0}]
    prefix = str(tmp_path / "run")
    with running(limit=100, window=1.0) as server:
        config = {"model": "m", "api_key": "k", "base_url": server.base_url}
        results = example.run_on_ray(
            "openai",
            config,
            inputs,
            tools=[lookup],
            shards=3,
            requests_per_minute=3000,
            checkpoint_prefix=prefix,
            concurrency=8,
        )
        answered = server.stats.answered
        assert [r.content for r in results] == [f"answer to q{i} using value-of-x" for i in range(41)]
        assert answered == 82 and server.stats.throttled == 0
        shards = sorted(tmp_path.glob("run.shard*.jsonl"))
        assert len(shards) == 3
        assert sum(len(p.read_text().splitlines()) for p in shards) == 41
        # a rerun of the whole job sends nothing: every shard restores from its checkpoint
        again = example.run_on_ray(
            "openai", config, inputs, tools=[lookup], shards=3, checkpoint_prefix=prefix
        )
        assert server.stats.answered == answered
    assert [r.content for r in again] == [r.content for r in results]
    assert json.loads(shards[0].read_text().splitlines()[0])["ok"] is True
