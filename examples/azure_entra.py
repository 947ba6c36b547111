"""Azure OpenAI with Microsoft Entra ID: no API key, a token from your `az login` or managed identity.

    pip install "toolwire[azure] @ git+https://github.com/toolwire/toolwire"
    az login
    AZURE_OPENAI_ENDPOINT=https://my-resource.openai.azure.com AZURE_OPENAI_DEPLOYMENT=gpt-4o-mini \\
        python examples/azure_entra.py "What's the weather in Paris and in Rome?"

Your identity needs the "Cognitive Services OpenAI User" role on the resource. Without
api_version toolwire uses Azure's v1 endpoint; set OPENAI_API_VERSION for a dated one.
"""

from __future__ import annotations

import os
import sys

from azure.identity import DefaultAzureCredential, get_bearer_token_provider

from toolwire import AbstractLLM, Session

SCOPE = "https://cognitiveservices.azure.com/.default"


def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: City name, e.g. "Paris".
    """
    return f"18 degrees and cloudy in {city}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    prompt = " ".join(args) or "What's the weather in Paris and in Rome?"
    token_provider = get_bearer_token_provider(DefaultAzureCredential(), SCOPE)
    llm = AbstractLLM.create(
        "azure_openai",
        azure_endpoint=os.environ["AZURE_OPENAI_ENDPOINT"],
        deployment=os.environ.get("AZURE_OPENAI_DEPLOYMENT", "gpt-4o-mini"),
        azure_ad_token_provider=token_provider,
    )
    session = Session(llm, tools=[get_weather])
    print(session.generate(prompt).content)
    calls = [call.name for message in session.messages for call in message.tool_calls or []]
    print(f"tool calls: {calls}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
