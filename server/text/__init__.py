"""Layer 3 of 4, text: the served model's files (tokenizer, template, normalizer settings),
the prompt built from plain messages and sampling values (knowledge passages included), the
detokenizer that streams whole characters, stop strings and the stream of text pieces. No
HTTP bodies: the layer above turns a request body into these plain values."""
