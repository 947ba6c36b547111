"""toolwire: LLM tool calling that is simple and dependable across providers.

    from toolwire import AbstractLLM, Session

    def get_weather(city: str) -> str:
        '''Current weather for a city.'''
        return "sunny"

    llm = AbstractLLM.create("openai", model="gpt-4o-mini")
    print(Session(llm, tools=[get_weather]).generate("Weather in Paris?").content)

Only the core types and errors are imported eagerly; everything else (the HTTP layer, pydantic,
providers) is loaded on first use, so `import toolwire` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    AuthenticationError,
    BatchItemError,
    ConfigurationError,
    ContentFilterError,
    ContextLengthError,
    InvalidRequestError,
    MaxTurnsExceeded,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ResponseParseError,
    ServerError,
    StreamInterruptedError,
    StructuredOutputError,
    ToolExecutionError,
    ToolwireError,
    UnsupportedCapabilityError,
)
from .types import (
    Capability,
    GenerateResponse,
    Message,
    ResponseFormat,
    StreamChunk,
    ToolCall,
    ToolCallDelta,
    ToolCallRequest,
    ToolResult,
)

if TYPE_CHECKING:
    from . import batch as batch
    from . import mcp as mcp
    from . import testing as testing
    from ._streaming import AsyncStream as AsyncStream
    from ._streaming import Stream as Stream
    from .events import SessionEvent as SessionEvent
    from .events import SessionFinished as SessionFinished
    from .events import TextDelta as TextDelta
    from .events import ToolCallStarted as ToolCallStarted
    from .events import ToolResultEvent as ToolResultEvent
    from .events import TurnFinished as TurnFinished
    from .image import Image as Image
    from .image import ImageError as ImageError
    from .interface import AbstractLLMInterface as AbstractLLMInterface
    from .logs import enable_debug_logging as enable_debug_logging
    from .mcp import MCPToolset as MCPToolset
    from .providers.base import BaseProvider as BaseProvider
    from .providers.registry import AbstractLLM as AbstractLLM
    from .providers.registry import available_providers as available_providers
    from .providers.registry import provider_capabilities as provider_capabilities
    from .providers.registry import register_provider as register_provider
    from .recorder import CallRecorder as CallRecorder
    from .recorder import record as record
    from .recorder import record_calls as record_calls
    from .session import Session as Session
    from .tools.definition import ToolDefinition as ToolDefinition
    from .tools.definition import function_to_tool_definition as function_to_tool_definition
    from .tools.definition import tool as tool
    from .tools.execution import ApprovalDecision as ApprovalDecision
    from .tools.execution import aexecute_tool_calls as aexecute_tool_calls
    from .tools.execution import execute_tool_calls as execute_tool_calls
    from .tools.standardize import standardize_tool_response as standardize_tool_response

# name -> module that defines it, imported on first attribute access (PEP 562)
_LAZY: dict[str, str] = {
    "AbstractLLM": "toolwire.providers.registry",
    "available_providers": "toolwire.providers.registry",
    "provider_capabilities": "toolwire.providers.registry",
    "register_provider": "toolwire.providers.registry",
    "AbstractLLMInterface": "toolwire.interface",
    "BaseProvider": "toolwire.providers.base",
    "Stream": "toolwire._streaming",
    "AsyncStream": "toolwire._streaming",
    "ToolDefinition": "toolwire.tools.definition",
    "function_to_tool_definition": "toolwire.tools.definition",
    "tool": "toolwire.tools.definition",
    "standardize_tool_response": "toolwire.tools.standardize",
    "execute_tool_calls": "toolwire.tools.execution",
    "aexecute_tool_calls": "toolwire.tools.execution",
    "Session": "toolwire.session",
    "ApprovalDecision": "toolwire.tools.execution",
    "SessionEvent": "toolwire.events",
    "TextDelta": "toolwire.events",
    "ToolCallStarted": "toolwire.events",
    "ToolResultEvent": "toolwire.events",
    "TurnFinished": "toolwire.events",
    "SessionFinished": "toolwire.events",
    "testing": "toolwire.testing",
    "batch": "toolwire.batch",
    "mcp": "toolwire.mcp",
    "MCPToolset": "toolwire.mcp",
    "record": "toolwire.recorder",
    "record_calls": "toolwire.recorder",
    "CallRecorder": "toolwire.recorder",
    "enable_debug_logging": "toolwire.logs",
    "Image": "toolwire.image",
    "ImageError": "toolwire.image",
}

__all__ = [
    "AbstractLLM",
    "AbstractLLMInterface",
    "ApprovalDecision",
    "AsyncStream",
    "AuthenticationError",
    "BaseProvider",
    "BatchItemError",
    "CallRecorder",
    "Capability",
    "ConfigurationError",
    "ContentFilterError",
    "ContextLengthError",
    "GenerateResponse",
    "Image",
    "ImageError",
    "InvalidRequestError",
    "MCPToolset",
    "MaxTurnsExceeded",
    "Message",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderTimeoutError",
    "RateLimitError",
    "ResponseFormat",
    "ResponseParseError",
    "ServerError",
    "Session",
    "SessionEvent",
    "SessionFinished",
    "Stream",
    "StreamChunk",
    "StreamInterruptedError",
    "StructuredOutputError",
    "TextDelta",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallRequest",
    "ToolCallStarted",
    "ToolDefinition",
    "ToolExecutionError",
    "ToolResult",
    "ToolResultEvent",
    "ToolwireError",
    "TurnFinished",
    "UnsupportedCapabilityError",
    "__version__",
    "aexecute_tool_calls",
    "available_providers",
    "batch",
    "enable_debug_logging",
    "execute_tool_calls",
    "function_to_tool_definition",
    "mcp",
    "provider_capabilities",
    "record",
    "record_calls",
    "register_provider",
    "standardize_tool_response",
    "testing",
    "tool",
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'toolwire' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name == f"{__name__}.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
