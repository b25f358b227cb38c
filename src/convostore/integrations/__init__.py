"""Drop-in adapters for agent frameworks, each behind its own extra.

- :mod:`convostore.integrations.openai_agents` (``convostore[openai-agents]``)
- :mod:`convostore.integrations.pydantic_ai` (``convostore[pydantic-ai]``)
- :mod:`convostore.integrations.langchain` (``convostore[langchain]``)
- :mod:`convostore.integrations.llama_index` (``convostore[llama-index]``)
- :mod:`convostore.integrations.adk` (``convostore[adk]``)

Each is a thin layer over a store: a framework's messages or items are kept
whole (as the message's ``native`` payload, beside convostore's own parts), so
they come back exactly as given, and every operation the framework calls is one
store operation, atomic on every backend.
"""
