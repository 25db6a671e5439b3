"""Samplers (decoding strategies), one per file, all sharing ``base.Sampler``'s step structure.

    from workers.samplers import make_sampler, SAMPLERS
    s = make_sampler("med", lam=0.2, k_max=8, temperature=1.0)
    out = s.generate(model, prompts, gen_length=32, block_length=8, seeds=[0, 1, 2])
"""
from __future__ import annotations

import inspect
from typing import Any

from workers.samplers.base import Commit, Sampler, SamplerOutput, Step, Trace
from workers.samplers.confidence import ConfidenceSampler
from workers.samplers.eb import EBSampler
from workers.samplers.entropy import EntropySampler
from workers.samplers.ete import ETESampler
from workers.samplers.factor import FactorSampler
from workers.samplers.left_to_right import LeftToRightSampler
from workers.samplers.imh import IMHSampler
from workers.samplers.margin import MarginSampler
from workers.samplers.max_prob import MaxProbSampler
from workers.samplers.med import MEDSampler
from workers.samplers.random import RandomSampler
from workers.samplers.threshold import ThresholdSampler
from workers.samplers.wedlm import WeDLMSampler

SAMPLERS: dict[str, type[Sampler]] = {
    cls.name: cls
    for cls in (RandomSampler, ConfidenceSampler, MaxProbSampler, EntropySampler, MarginSampler,
                LeftToRightSampler, ThresholdSampler, FactorSampler, EBSampler, MEDSampler,
                IMHSampler, ETESampler, WeDLMSampler)
}


def make_sampler(name: str, **params: Any) -> Sampler:
    """Build a registered sampler; unknown names or parameters raise a one-line ValueError."""
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; known: {', '.join(sorted(SAMPLERS))}")
    cls = SAMPLERS[name]
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"sampler {name!r} has no parameter {unknown[0]!r} (parameters: {', '.join(allowed)})")
    return cls(**params)


__all__ = ["SAMPLERS", "make_sampler", "Sampler", "SamplerOutput", "Step", "Commit", "Trace"]
