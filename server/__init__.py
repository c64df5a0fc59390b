"""Serving stage: onnxruntime decoding engine and Starlette server; never imports torch."""
