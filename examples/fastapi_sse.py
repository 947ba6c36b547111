"""Stream a toolwire Session to a browser as Server-Sent Events, from a FastAPI app.

    pip install "toolwire[fastapi]" uvicorn
    OPENAI_API_KEY=... uvicorn examples.fastapi_sse:app
    open http://127.0.0.1:8000/                       # a page that shows the tool calls arrive live
    curl -N 'http://127.0.0.1:8000/chat?q=Weather+in+Paris'

Each Session event becomes one SSE event (`event: text_delta|turn_finished|tool_call_started|
tool_result|session_finished|error`, `data:` JSON; see docs/integrations.md). Closing the page cancels
the run and the tools it is running. Set TOOLWIRE_PROVIDER / TOOLWIRE_MODEL / TOOLWIRE_BASE_URL to use
another provider or an OpenAI-compatible server.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Query
from fastapi.responses import HTMLResponse

from toolwire import AbstractLLM, Session
from toolwire.integrations.fastapi import SSEResponse, sse_response


def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: The city name, e.g. "Paris".
    """
    return f"18 degrees and cloudy in {city}"


def get_local_time(city: str) -> str:
    """Current local time in a city."""
    return "14:05"


def make_llm() -> Any:
    config: dict[str, Any] = {}
    if os.environ.get("TOOLWIRE_MODEL"):
        config["model"] = os.environ["TOOLWIRE_MODEL"]
    if os.environ.get("TOOLWIRE_BASE_URL"):
        config["base_url"] = os.environ["TOOLWIRE_BASE_URL"]
    return AbstractLLM.create(os.environ.get("TOOLWIRE_PROVIDER", "openai"), **config)


@functools.cache
def shared_llm(factory: Callable[[], Any]) -> Any:
    """One provider per process (per factory): it holds the connection pool, so every request reuses
    the open connections instead of opening (and leaking) a pool of its own."""
    return factory()


app = FastAPI(title="toolwire SSE example")
app.state.llm_factory = make_llm  # swapped by the tests for a provider pointed at a local fake server
app.state.tools = [get_weather, get_local_time]


@app.get("/chat", response_class=SSEResponse)
async def chat(q: str = Query(..., description="The user's message")) -> SSEResponse:
    session = Session(shared_llm(app.state.llm_factory), tools=app.state.tools)
    return sse_response(session, q)


@app.get("/", response_class=HTMLResponse)
async def page() -> str:
    return PAGE


# The browser side: EventSource, one row per tool call (filled in when its result arrives), the answer
# as it streams. textContent only, never innerHTML: tool output and model text are untrusted.
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>toolwire · live tool calls</title>
<link rel="icon" href="data:,">
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 46rem; color: #1d2433; }
  form { display: flex; gap: .5rem; } input { flex: 1; padding: .4rem; } button { padding: .4rem 1rem; }
  #tools { list-style: none; padding: 0; }
  .tool-call { border-left: 4px solid #d29922; background: #fff8e6; margin: .4rem 0; padding: .4rem .7rem; }
  .tool-call.done { border-color: #2da44e; background: #eefbf1; }
  .tool-call.failed { border-color: #cf222e; background: #ffebe9; }
  .tool-call code { font-size: 13px; } .tool-call .output { color: #57606a; display: block; }
  #answer { white-space: pre-wrap; border-top: 1px solid #d0d7de; padding-top: .7rem; min-height: 1.5rem; }
  #status { color: #57606a; font-size: 13px; } #status.error { color: #cf222e; }
</style>
</head>
<body>
<h1>toolwire · live tool calls</h1>
<form id="ask"><input name="q" value="Weather and time in Paris?"><button>Ask</button></form>
<p id="status">idle</p>
<ul id="tools"></ul>
<div id="answer"></div>
<script>
const $ = (selector) => document.querySelector(selector);
window.toolwireLog = [];

function row(data) {
  const li = document.createElement("li");
  li.className = "tool-call";
  li.dataset.id = data.id;
  const call = document.createElement("code");
  call.textContent = data.name + "(" + JSON.stringify(data.arguments) + ")";
  const output = document.createElement("span");
  output.className = "output";
  output.textContent = "running…";
  li.append(call, output);
  return li;
}

function ask(question) {
  $("#tools").replaceChildren();
  $("#answer").textContent = "";
  $("#status").className = "";
  $("#status").textContent = "thinking…";
  const source = new EventSource("chat?q=" + encodeURIComponent(question));
  const on = (name, handle) => source.addEventListener(name, (event) => {
    if (event.data === undefined) return;  // the browser's own connection "error" carries no data
    const data = JSON.parse(event.data);
    window.toolwireLog.push(name);
    handle(data);
  });
  on("text_delta", (data) => { $("#answer").textContent += data.text; });
  on("tool_call_started", (data) => {
    $("#tools").append(row(data));
    $("#status").textContent = "running tools…";
  });
  on("tool_result", (data) => {
    const li = document.querySelector(`.tool-call[data-id="${CSS.escape(data.id)}"]`);
    li.classList.add(data.is_error ? "failed" : "done");
    li.querySelector(".output").textContent = data.output;
  });
  on("session_finished", (data) => {
    $("#answer").textContent = data.content || "";
    $("#status").textContent = "done · " + (data.total_usage.total_tokens || 0) + " tokens";
    document.body.dataset.done = "1";
    source.close();  // otherwise EventSource reconnects when the stream ends, and asks again
  });
  on("error", (data) => {
    $("#status").className = "error";
    $("#status").textContent = data.type + ": " + data.message;
    source.close();
  });
}

$("#ask").addEventListener("submit", (event) => {
  event.preventDefault();
  ask(new FormData(event.target).get("q"));
});
</script>
</body>
</html>
"""
