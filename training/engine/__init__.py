"""LIMA fine-tuning engine: pure torch/transformers, no Django import.

    python -m training.engine --config run.json [--resume]
    python -m training.engine --show-recipe

Progress is printed on stdout as JSON lines, one object with an "event" key a line: start, step,
epoch_end, resume_point, checkpoint, warning, done, error (fields in README.md beside this file);
consumers skip lines that are not JSON objects. Checkpoints: OUTPUT_DIR/checkpoint-epoch-NN/ (weights
only) and the latest OUTPUT_DIR/resume-step-NNNNNN/ (README.md).
"""
