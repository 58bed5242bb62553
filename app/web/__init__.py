"""The web app under /app: server-rendered pages over the same services the REST routes call."""
