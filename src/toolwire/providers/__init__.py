"""Providers: one module per wire format, each a set of pure translation functions plus a small
`BaseProvider` subclass. Import them through `toolwire.AbstractLLM.create(name, ...)`."""
