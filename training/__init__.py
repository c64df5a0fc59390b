"""Training stage: data preparation, base models, CPU fine-tuning and evaluation."""
