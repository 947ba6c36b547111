"""Many requests: `run` / `arun` (many tool-calling sessions at once) and `submit` (the providers'
Batch APIs: OpenAI, Azure OpenAI, Anthropic).

    from toolwire import batch
    results = batch.run(llm, inputs, tools=[...], concurrency=64, checkpoint="run.jsonl")
    job = batch.submit(llm, inputs, tools=[...]); job.wait(); job.results()
    job = await batch.asubmit(llm, inputs, tools=[...]); await job.await_(); job.results()

Results come back in input order, one per input: the final `GenerateResponse`, or the
`ToolwireError` that ended that input. See docs/batch.md.
"""

from __future__ import annotations

from ._progress import Progress
from ._run import arun, run
from ._submit import Job, asubmit, submit

__all__ = ["Job", "Progress", "arun", "asubmit", "run", "submit"]
