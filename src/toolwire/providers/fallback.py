"""`fallback`: several providers (or models) behind one interface, tried in order.

    llm = AbstractLLM.create(
        "fallback",
        providers=[
            AbstractLLM.create("azure_openai", deployment="gpt-4o", ...),
            ("anthropic", {"model": "claude-sonnet-4-5"}),
            ("openai", {"model": "gpt-4o-mini"}),
        ],
    )
    resp = llm.generate(messages, tools=tools)
    resp.provider                          # who answered, e.g. "anthropic"
    resp.provider_data["fallback"]         # {"index": 1, "skipped": ["azure_openai"]}

Each member first spends its own retry budget (the shared transport's policy: backoff, Retry-After);
only then does the call move to the next member. The conversation is provider-neutral (`Message`),
and every member translates it into its own wire format, including tool calls and results made by
another provider (ids mapped consistently, provider-only parts kept under their provider's key),
so a turn that fails over mid-conversation carries the whole history with it.

When the call moves on:
- a retryable error after the member's retries (429, 5xx, 529, timeouts, connection failures);
- `AuthenticationError`: a revoked or misconfigured key on one member must not take the whole
  service down while another member works;
- a `RateLimitError` that is not retryable (`insufficient_quota`: waiting does not refill it);
- with `fallback_on_content_filter=True`, a `ContentFilterError` or a response whose
  `finish_reason` is `"content_filter"` (filters differ between providers).
Never on errors of the request itself (`InvalidRequestError`, `ContextLengthError`,
`UnsupportedCapabilityError`, `ConfigurationError`, bad arguments): the next member would refuse
the same request, and the caller must see the real cause.

If every member fails, the last error is raised with all of them in its `errors` attribute.

Capabilities are the **intersection** of the members': a request one member accepts must not be
refused by the member it falls over to, so only what every member can do is advertised.

Streams: the call moves on when opening the stream fails (after the member's retries). Once a
stream is open, the member's own stream rules hold (re-opened within its budget before the first
chunk; `StreamInterruptedError` after).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from ..errors import (
    AuthenticationError,
    ConfigurationError,
    ContentFilterError,
    ProviderError,
    RateLimitError,
)
from ..interface import AbstractLLMInterface
from ..types import Capability, GenerateResponse

__all__ = ["FallbackProvider", "with_fallbacks"]

logger = logging.getLogger("toolwire.fallback")

_ORDER = {cap: i for i, cap in enumerate(Capability)}


def _member(spec: Any) -> AbstractLLMInterface:
    if isinstance(spec, AbstractLLMInterface):
        return spec
    from .registry import AbstractLLM

    if isinstance(spec, str):
        return AbstractLLM.create(spec)  # type: ignore[no-any-return]
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        if not isinstance(spec[1], Mapping):
            raise ConfigurationError(f"fallback: the config of {spec[0]!r} must be a dict")
        return AbstractLLM.create(spec[0], **spec[1])  # type: ignore[no-any-return]
    raise ConfigurationError(
        "fallback: each entry of providers= must be a provider instance, a provider name, or a "
        f"(name, config dict) pair; got {type(spec).__name__}"
    )


class FallbackProvider(AbstractLLMInterface):
    """Try each member in order; the first that answers wins."""

    name: ClassVar[str] = "fallback"

    def __init__(
        self,
        *,
        providers: Sequence[Any],
        fallback_on_content_filter: bool = False,
    ) -> None:
        members = [_member(spec) for spec in providers]
        if not members:
            raise ConfigurationError("fallback: providers=[...] needs at least one provider")
        self.providers: list[AbstractLLMInterface] = members
        self.fallback_on_content_filter = fallback_on_content_filter

    def __repr__(self) -> str:
        # members' reprs mask their keys themselves
        inner = ", ".join(repr(p) for p in self.providers)
        return (
            f"FallbackProvider(providers=[{inner}], "
            f"fallback_on_content_filter={self.fallback_on_content_filter})"
        )

    # -- capabilities --------------------------------------------------------------------------
    @property
    def capabilities(self) -> list[Capability]:
        return self.capabilities_for(None)

    def capabilities_for(self, model: str | None = None) -> list[Capability]:
        common: set[Capability] | None = None
        for member in self.providers:
            caps = set(member.capabilities)
            common = caps if common is None else common & caps
        return sorted(common or (), key=_ORDER.__getitem__)

    # -- policy --------------------------------------------------------------------------------
    def should_fall_back(self, error: BaseException) -> bool:
        """Whether `error` from one member sends the call to the next one."""
        if isinstance(error, ContentFilterError):
            return self.fallback_on_content_filter
        if isinstance(error, (AuthenticationError, RateLimitError)):
            return True
        return isinstance(error, ProviderError) and error.retryable

    def _filtered(self, result: Any) -> bool:
        return (
            self.fallback_on_content_filter
            and isinstance(result, GenerateResponse)
            and result.finish_reason == "content_filter"
        )

    def _label(self, member: AbstractLLMInterface) -> str:
        return str(getattr(member, "name", type(member).__name__))

    def _skip(self, index: int, member: AbstractLLMInterface, reason: str) -> None:
        if index + 1 < len(self.providers):
            logger.info(
                "fallback: %s failed (%s); trying %s",
                self._label(member),
                reason,
                self._label(self.providers[index + 1]),
            )

    def _answered(self, result: Any, index: int, skipped: list[str]) -> Any:
        if isinstance(result, GenerateResponse):
            # a copy of the same kind: a ProviderData keeps forwarding its deprecated keys
            data: dict[str, Any] = result.provider_data.copy() if result.provider_data is not None else {}
            data["fallback"] = {"index": index, "skipped": skipped}
            result.provider_data = data
        return result

    @staticmethod
    def _exhausted(errors: list[BaseException]) -> BaseException:
        last = errors[-1]
        # every member's failure stays inspectable on the one error that is raised
        last.errors = list(errors)  # type: ignore[attr-defined]
        return last

    @staticmethod
    def _check(kwargs: Mapping[str, Any]) -> None:
        if kwargs.get("model") is not None:
            raise ValueError(
                "fallback: model= per call is ambiguous across providers; set each member's model "
                "when creating it"
            )

    # -- the interface -------------------------------------------------------------------------
    def generate(self, messages: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self._check(kwargs)
        errors: list[BaseException] = []
        skipped: list[str] = []
        for index, member in enumerate(self.providers):
            try:
                result = member.generate(messages, **kwargs)
            except Exception as exc:
                if not self.should_fall_back(exc):
                    raise
                errors.append(exc)
                skipped.append(self._label(member))
                self._skip(index, member, type(exc).__name__)
                continue
            if self._filtered(result) and index + 1 < len(self.providers):
                skipped.append(self._label(member))
                self._skip(index, member, "content filter")
                continue
            return self._answered(result, index, skipped)
        raise self._exhausted(errors)

    async def agenerate(self, messages: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self._check(kwargs)
        errors: list[BaseException] = []
        skipped: list[str] = []
        for index, member in enumerate(self.providers):
            try:
                result = await member.agenerate(messages, **kwargs)
            except Exception as exc:
                if not self.should_fall_back(exc):
                    raise
                errors.append(exc)
                skipped.append(self._label(member))
                self._skip(index, member, type(exc).__name__)
                continue
            if self._filtered(result) and index + 1 < len(self.providers):
                skipped.append(self._label(member))
                self._skip(index, member, "content filter")
                continue
            return self._answered(result, index, skipped)
        raise self._exhausted(errors)

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        for member in self.providers:
            close = getattr(member, "close", None)
            if callable(close):
                close()

    async def aclose(self) -> None:
        for member in self.providers:
            aclose = getattr(member, "aclose", None)
            if callable(aclose):
                await aclose()

    def __enter__(self) -> FallbackProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> FallbackProvider:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def with_fallbacks(primary: Any, *others: Any, fallback_on_content_filter: bool = False) -> FallbackProvider:
    """`with_fallbacks(llm, other_llm, ("openai", {...}))`: the same as `create("fallback", ...)`."""
    members: Iterable[Any] = (primary, *others)
    return FallbackProvider(providers=list(members), fallback_on_content_filter=fallback_on_content_filter)
