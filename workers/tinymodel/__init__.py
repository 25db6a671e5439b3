"""The embedded default model ("tiny"): a small bidirectional masked-diffusion LM trained on the
project's synthetic tasks (docs/design.md §7).

- ``model.py``      config + model (transformers ``PretrainedConfig`` / ``PreTrainedModel``,
                    registered with the Auto classes on import) and the LLaDA-style loss
- ``tokenizer.py``  the character-level tokenizer (``tokenizers`` library)
- ``train.py``      ``python -m workers.tinymodel.train``: reproducible CPU training
- ``checkpoint/``   the committed checkpoint; load it with ``workers.models.load_model("tiny")``
- ``sudoku/``       a separate small checkpoint trained on 4×4 Sudoku only (004's Sudoku case),
                    ``load_model("tiny-sudoku")``; kept apart so the shared model's quality is untouched
- ``wedlm.py``      WeDLM's dual-stream reordered-mask loss (``train --family wedlm``)
- ``wedlm/``        a tiny causal WeDLM trained on arith, in the published WeDLM layout,
                    ``load_model("tiny-wedlm")`` (000's second model in miniature)
"""
from pathlib import Path

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoint"
SUDOKU_CHECKPOINT_DIR = Path(__file__).resolve().parent / "sudoku"
WEDLM_CHECKPOINT_DIR = Path(__file__).resolve().parent / "wedlm"
