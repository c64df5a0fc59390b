"""Data preparation: sources -> normalized, filtered chat JSONL split into train/test."""
