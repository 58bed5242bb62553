"""Tools the model may call: client tools (executed by the IDE) and server tools (executed here)."""
