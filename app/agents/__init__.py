"""Agents: one module per agent with its prompt template beside it, and the selector that picks one."""
