"""Layer 2 of 4, the engine: the scheduler (waiting queue, admission, cancels, the
shutdown deadline -> a plan per step), the core loop (plan -> batch step -> accept ->
deliver), request state, sampling with its masks and UTF-8 guard, prompt-lookup drafts and
batch-size tuning. Token ids in, token ids out: no text, no HTTP. Imports only kv below it."""
