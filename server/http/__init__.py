"""Layer 4 of 4, HTTP: the Starlette app and `serve`, the runtime that holds a loaded model,
the gate (keys, rate limits, body size), request bodies and wire formats (OpenAI and
Ollama), replay of streams, metrics, admin routes and the OpenAPI document. The only layer
that knows about requests; everything below it can run without a web server."""
