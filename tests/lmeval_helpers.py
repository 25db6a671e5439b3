"""Shared by the lm-eval tests: the local fixture task (tests/fixtures/lmeval) made runnable from
any working directory, and the project's own generation path for the same prompts and seeds."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Sequence

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lmeval"
DATA = "arith_mini.jsonl"


def local_task_dir(tmp: Path) -> str:
    """A copy of the fixture tasks whose data path is absolute (the committed YAML's is relative
    to the repository root, for the README's command line)."""
    out = tmp / "lmeval_tasks"
    shutil.copytree(FIXTURES, out)
    y = out / "arith_mini.yaml"
    y.write_text(y.read_text().replace(f"tests/fixtures/lmeval/{DATA}", str(out / DATA)))
    return str(out)


def fixture_docs() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / DATA).read_text().splitlines() if line.strip()]


def project_completions(model: Any, prompts: Sequence[str], sampler: str, params: dict, gen_length: int,
                        block_length: int, seed: int) -> list[str]:
    """What a sweep row's ``completion`` would hold: encode_prompt -> generate -> decode."""
    from workers.samplers import make_sampler

    out = make_sampler(sampler, **params).generate(model, [model.encode_prompt(p) for p in prompts],
                                                   gen_length, block_length, [seed] * len(prompts))
    return [model.decode(t) for t in out.tokens]
