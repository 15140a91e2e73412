"""Models served over HTTP (vLLM's OpenAI-compatible server): the client and a local launcher."""
