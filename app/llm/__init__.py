"""The LLM layer: provider-neutral types, the model registry, the router and one adapter per provider."""
