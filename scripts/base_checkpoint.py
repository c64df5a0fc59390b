"""Write the untouched base model as a checkpoint `persian-chat export` can read, its
vocabulary trimmed exactly as `train --trim-vocab` trims it, so the base model is scored by
the chat evaluation through the same served int8 path as the fine-tuned one.

    python scripts/base_checkpoint.py [--base-model gemma3-270m] [--data-dir datasets] \
        [--output models/base-trimmed]
    persian-chat export --model models/base-trimmed --output models/base-onnx-int8 --logs-dir /tmp
    persian-chat evaluate --chat-only --served-dir models/base-onnx-int8 --label base
"""

from __future__ import annotations

import argparse
from pathlib import Path

from persian_chat.atomic import building_directory
from persian_chat.training.base_models import load_base
from persian_chat.training.trim_vocab import trim_model_vocabulary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-model", default="gemma3-270m")
    parser.add_argument("--data-dir", type=Path, default=Path("datasets"))
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--output", type=Path, default=Path("models/base-trimmed"))
    args = parser.parse_args()
    model, tokenizer, _ = load_base(args.base_model, args.models_dir)
    model, tokenizer = trim_model_vocabulary(model, tokenizer, args.data_dir)
    with building_directory(args.output) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    print(f"wrote {args.output} (vocabulary {len(tokenizer)})")


if __name__ == "__main__":
    main()
