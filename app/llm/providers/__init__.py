"""One adapter per provider, each translating `app.llm.types` to and from that provider's wire shapes."""
