"""Web-framework integrations: stream a `Session`'s events to a browser as Server-Sent Events.

Each framework has its own module, imported only when you import it (the frameworks are extras):

- `toolwire.integrations.starlette` / `toolwire.integrations.fastapi` (`pip install "toolwire[fastapi]"`):
  `sse_response(session, prompt)` returns a streaming response driven by `Session.astream`.
- `toolwire.integrations.flask` (`toolwire[flask]`): `sse_response(session, prompt)`, a sync generator
  driven by `Session.stream`.
- `toolwire.integrations.django` (`toolwire[django]`): `sse_response` (sync, for WSGI) and
  `asse_response` (async views under ASGI).

`toolwire.integrations.sse` is the framework-neutral part they share: the event encoding (event name +
one JSON `data:` line), the headers, and the sync/async generators with in-band errors. See
docs/integrations.md.
"""

from __future__ import annotations

__all__: list[str] = []
