"""Helpers shared by the test modules (not tests themselves): replayed recordings (`replay`), the
OpenAI family's shared replay checks (`openai_family`), OpenAPI request validation, fake servers
(`fault_server`, `observe_support`) and wire-shape oracles. tests/ is on sys.path (it has no
`__init__.py`; pytest inserts the rootdir conftest's folder), so they import as `support.<name>`."""
