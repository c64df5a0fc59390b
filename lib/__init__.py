"""persian-chat: fine-tune, export and serve a small Persian chat model on CPU.

The top-level folders of the repository are the pipeline's stages; they all import under
this one namespace (see pyproject.toml's package-dir mapping).
"""

__version__ = "0.1.0"
