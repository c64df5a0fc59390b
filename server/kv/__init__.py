"""Layer 1 of 4, storage: the ONNX graph's inputs and outputs and the KV cache behind one
`Batch` protocol — the padded batch (recomputes nothing, reuses nothing) and the slot batch
(fixed slots, prefix reuse through the prompt cache, steps ahead). Imports nothing else from
the server; the engine above drives it one step at a time."""
