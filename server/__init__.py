"""Serving stage: onnxruntime decoding engine and Starlette server; never imports torch.

Four layers whose imports only run downward (tests/server/test_layers.py checks it):
kv (graph inputs/outputs, KV storage) <- engine (scheduler, core loop, sampling) <- text
(served model, prompt, detokenizer, stream) <- http (app, serve, runtime, routes). The
server's settings (settings.py) sit beside them: every layer may read them, and they import
no layer.
"""
