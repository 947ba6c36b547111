"""`AbstractLLMInterface`: what every provider offers, whatever wire format it speaks."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from .types import Capability

if TYPE_CHECKING:
    from ._streaming import AsyncStream, Stream
    from .types import GenerateResponse

__all__ = ["AbstractLLMInterface"]


class AbstractLLMInterface(ABC):
    """The provider interface. Create instances with `AbstractLLM.create(name, ...)`."""

    @property
    @abstractmethod
    def capabilities(self) -> list[Capability]:
        """What this provider (for its configured model) can do."""

    def supports_capability(self, capability: Capability | str, *, model: str | None = None) -> bool:
        return Capability(capability) in self.capabilities_for(model)

    def capabilities_for(self, model: str | None = None) -> list[Capability]:
        return self.capabilities

    # Overloads on `stream`, as on BaseProvider: code typed against the interface sees a
    # GenerateResponse, or a stream to iterate.
    @overload
    def generate(
        self,
        messages: Any,
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Any = None,
        stream: Literal[False] = False,
        tools: Sequence[Any] | None = None,
        tool_choice: str | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> GenerateResponse: ...
    @overload
    def generate(
        self,
        messages: Any,
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Any = None,
        stream: Literal[True],
        tools: Sequence[Any] | None = None,
        tool_choice: str | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Stream: ...
    @overload
    def generate(
        self,
        messages: Any,
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Any = None,
        stream: bool = False,
        tools: Sequence[Any] | None = None,
        tool_choice: str | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> GenerateResponse | Stream: ...
    @abstractmethod
    def generate(
        self,
        messages: Any,
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Any = None,
        stream: bool = False,
        tools: Sequence[Any] | None = None,
        tool_choice: str | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> GenerateResponse | Stream:
        """One model turn. With `stream=True`, a `Stream` to iterate; then `stream.response`."""

    @overload
    async def agenerate(
        self,
        messages: Any,
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Any = None,
        stream: Literal[False] = False,
        tools: Sequence[Any] | None = None,
        tool_choice: str | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> GenerateResponse: ...
    @overload
    async def agenerate(
        self,
        messages: Any,
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Any = None,
        stream: Literal[True],
        tools: Sequence[Any] | None = None,
        tool_choice: str | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> AsyncStream: ...
    @overload
    async def agenerate(
        self,
        messages: Any,
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Any = None,
        stream: bool = False,
        tools: Sequence[Any] | None = None,
        tool_choice: str | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> GenerateResponse | AsyncStream: ...
    @abstractmethod
    async def agenerate(
        self,
        messages: Any,
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Any = None,
        stream: bool = False,
        tools: Sequence[Any] | None = None,
        tool_choice: str | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> GenerateResponse | AsyncStream:
        """The async twin of `generate`."""
