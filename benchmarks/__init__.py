"""Benchmarks that measure speed and memory side by side (`persian-chat bench NAME`)."""
