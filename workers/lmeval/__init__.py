"""lm-evaluation-harness meets the project: any lm-eval task with any sampler (docs/design.md §9).

* ``workers.lmeval.model``: the lm-eval model ``dllm`` (``lm_eval --model dllm``, or the
  ``dllm-lm-eval`` console script), backed by ``load_model`` and the batch-invariant samplers;
* ``workers.lmeval.task``: the sweep task family ``lm_eval:<task>`` (documents, prompts and scoring
  from lm-eval; rows like every other task);
* ``workers.lmeval.elbo``: the masked-diffusion ELBO estimator behind ``loglikelihood`` (torch only);
* ``workers.lmeval.text``: what both share: stop strings cut as lm-eval's ``hf`` model cuts them,
  chat templates rendered as it renders them, context/continuation tokenisation.

Everything but ``elbo`` and ``text`` needs the ``[lm-eval]`` extra (``pip install -e '.[lm-eval]'``).
"""
from __future__ import annotations

MODEL_NAME = "dllm"          # the name lm-eval knows the model by (``--model dllm``)
TASK_PREFIX = "lm_eval:"     # sweep task names ``lm_eval:<lm-eval task>``


def require_lm_eval() -> None:
    """Raise a one-line ImportError naming the extra when lm-eval is not installed."""
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        raise ImportError("lm-evaluation-harness is not installed: pip install -e '.[lm-eval]' "
                          "(README: Evaluating with lm-evaluation-harness)") from None


__all__ = ["MODEL_NAME", "TASK_PREFIX", "require_lm_eval"]
