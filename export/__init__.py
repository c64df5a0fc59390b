"""Export stage: Optimum ONNX export with KV cache, int8 quantization, parity check."""
