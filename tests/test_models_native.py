"""Native LLaDA / Dream on tiny random checkpoints in the published layout.

The folders are written by ``workers.models.random_checkpoint`` with the published config fields
and parameter names.  Exactness against the published modelling code is checked outside the repo
(README "Real models"): that code is not ours to commit.
"""
from __future__ import annotations

import json
import shutil
import textwrap

import pytest
import torch

from workers.models import load_model
from workers.models.dream import DreamDenoiser
from workers.models.llada import LLaDADenoiser
from workers.models.native_dream import NativeDream
from workers.models.native_llada import NativeLLaDA
from workers.models.random_checkpoint import tiny_tokenizer, write_random_checkpoint
from workers.samplers import make_sampler

SHAPES = {"llada": dict(d_model=32, n_heads=4, n_kv_heads=4, n_layers=2, mlp_hidden_size=48, vocab_size=128,
                        embedding_size=128, mask_token_id=120, eos_token_id=2, pad_token_id=0),
          "dream": dict(hidden_size=32, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=2,
                        intermediate_size=48, vocab_size=128, mask_token_id=120, eos_token_id=2, pad_token_id=0,
                        bos_token_id=0)}
PROMPTS = ["Compute 3+4\n", "Numbers: 1 2 3 Target: 6\n", "x\n", "Compute 3+5\n"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    root = tmp_path_factory.mktemp("native")
    return {fam: str(write_random_checkpoint(root / fam, fam, seed=1, tokenizer=tiny_tokenizer("<|eot_id|>"),
                                             **SHAPES[fam])) for fam in SHAPES}


@pytest.mark.parametrize("family,adapter,module", [("llada", LLaDADenoiser, NativeLLaDA),
                                                   ("dream", DreamDenoiser, NativeDream)])
def test_a_local_folder_loads_natively_with_the_checkpoints_own_ids(ckpt, family, adapter, module):
    m = load_model(ckpt[family])
    assert type(m) is adapter and type(m.model) is module and m.honours_attention_mask
    assert (m.mask_id, m.eos_id, m.pad_id, m.vocab_size) == (120, 2, 0, 128)  # config, not presets' 126336
    if family == "llada":
        assert m.stop_ids == {2, 100}   # EOS and the tokenizer's <|eot_id|>


def test_a_checkpoint_missing_a_parameter_is_a_one_line_error(ckpt, tmp_path):
    from safetensors.torch import load_file, save_file

    bad = shutil.copytree(ckpt["llada"], tmp_path / "bad")
    t = load_file(str(bad / "model.safetensors"))
    del t["model.transformer.blocks.1.up_proj.weight"]
    save_file(t, str(bad / "model.safetensors"))
    with pytest.raises(ValueError, match="lacks 1 parameters") as e:
        load_model(str(bad))
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("family", ["llada", "dream"])
def test_native_logits_do_not_depend_on_left_padding(ckpt, family):
    m = load_model(ckpt[family])
    a = m.encode_prompt("Compute 1+2\n") + [m.mask_id] * 4
    b = m.encode_prompt("Compute 10+20*3\n") + [m.mask_id] * 4
    x = torch.full((2, len(b)), m.pad_id)
    attn = torch.zeros_like(x)
    x[0, len(b) - len(a):], attn[0, len(b) - len(a):] = torch.tensor(a), 1
    x[1], attn[1] = torch.tensor(b), 1
    batched = m.logits(x, attention_mask=attn)
    off = len(b) - len(a) + 1    # row 0 of a shifted model is a prompt row that padding may change
    torch.testing.assert_close(batched[0, off:], m.logits(torch.tensor([a]))[0, 1:], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batched[1], m.logits(torch.tensor([b]))[0], atol=1e-5, rtol=1e-5)


class IgnoresMask(torch.nn.Module):
    """LLaDA's published behaviour on the same weights: the padding mask is dropped (absolute
    positions, padded keys attended)."""

    def __init__(self, inner: NativeLLaDA) -> None:
        super().__init__()
        self.inner, self.config = inner, inner.config

    def forward(self, input_ids, attention_mask=None, **kw):
        return self.inner(input_ids)


def decode(m, prompts, seeds):
    ids = [m.encode_prompt(p) for p in prompts]
    return make_sampler("confidence", temperature=1.0).generate(m, ids, gen_length=8, block_length=4, seeds=seeds).tokens


@pytest.mark.parametrize("family", ["llada", "dream"])
def test_ragged_generate_equals_one_at_a_time_on_the_native_models(ckpt, family):
    m = load_model(ckpt[family])
    batch = decode(m, PROMPTS, seeds=[3, 4, 5, 6])
    for i, p in enumerate(PROMPTS):
        assert torch.equal(decode(m, [p], seeds=[3 + i])[0], batch[i])


def test_a_model_that_ignores_the_mask_is_probed_and_decoded_by_prompt_length(ckpt):
    from workers.models.hf import probe_padding

    native = load_model(ckpt["llada"])
    m = LLaDADenoiser(IgnoresMask(native.model), native.tokenizer, name="ignores-mask", mask_id=120, eos_id=2, pad_id=0)
    m.honours_attention_mask = probe_padding(m)
    assert not m.honours_attention_mask and probe_padding(native)
    batch = decode(m, PROMPTS, seeds=[3, 4, 5, 6])
    for i, p in enumerate(PROMPTS):
        assert torch.equal(decode(m, [p], seeds=[3 + i])[0], batch[i]), i


def write_remote_code_folder(src, dst, imports: str):
    """A LLaDA folder whose config points at modelling code shipped with it (our own stand-in)."""
    shutil.copytree(src, dst)
    (dst / "configuration_llada.py").write_text(textwrap.dedent("""
        from transformers import PretrainedConfig
        class LLaDAConfig(PretrainedConfig):
            model_type = "llada"
    """))
    (dst / "modeling_llada.py").write_text(f"{imports}\nfrom transformers import PreTrainedModel\n"
                                           "class LLaDAModelLM(PreTrainedModel):\n    pass\n")


def test_remote_code_needs_permission_and_a_missing_package_is_named(ckpt, tmp_path, monkeypatch):
    folder = tmp_path / "remote"
    write_remote_code_folder(ckpt["llada"], folder, "import dllm_no_such_package")
    monkeypatch.delenv("DLLM_TRUST_REMOTE_CODE", raising=False)
    monkeypatch.setenv("HF_MODULES_CACHE", str(tmp_path / "modules"))
    with pytest.raises(ValueError, match="DLLM_TRUST_REMOTE_CODE=1") as e:
        load_model(str(folder), impl="remote")
    assert "\n" not in str(e.value) and "trust_remote_code=True" in str(e.value)
    monkeypatch.setenv("DLLM_TRUST_REMOTE_CODE", "1")   # the environment variable allows it
    with pytest.raises(ValueError, match="needs the Python package dllm_no_such_package") as e:
        load_model(str(folder), impl="remote")
    assert "\n" not in str(e.value) and "pip install dllm_no_such_package" in str(e.value)
    assert type(load_model(str(folder)).model) is NativeLLaDA   # native needs neither


def test_config_recognition():
    from workers.models import family_adapter
    from workers.models.hf import HFDenoiser

    assert family_adapter({"architectures": ["LLaDAModelLM"]}) is LLaDADenoiser
    assert family_adapter({"model_type": "Dream"}) is DreamDenoiser
    assert family_adapter({"auto_map": {"AutoModel": "modeling_llada.LLaDAModelLM"}}) is LLaDADenoiser
    assert family_adapter({"model_type": "tiny_diffusion"}) is HFDenoiser
    with pytest.raises(ValueError, match="impl must be one of"):
        load_model("tiny", impl="fast")


def test_adapters_built_directly_take_the_models_config_ids(ckpt):
    """LLaDADenoiser used to hard-code 126336 whatever the model's config said."""
    from types import SimpleNamespace

    native = load_model(ckpt["llada"])
    model = IgnoresMask(native.model)
    model.config = SimpleNamespace(mask_token_id=120, eos_token_id=2, pad_token_id=0, vocab_size=128)
    for adapter in (LLaDADenoiser, DreamDenoiser):
        m = adapter(model, native.tokenizer, name="direct")
        assert (m.mask_id, m.pad_id) == (120, 0)
