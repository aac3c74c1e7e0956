"""Writes the Hugging Face interop fixtures with real transformers (tests/hf/, read by tests/hf/test_hf.cpp).

    python3 tools/reference/make_hf_fixture.py [--out tests/hf]

For each of a tiny GPT2LMHeadModel and a tiny LlamaForCausalLM with random weights:
  OUT/<arch>/                       save_pretrained's directory (config.json, model.safetensors, ...)
  OUT/<arch>_logits.safetensors     input.tokens I32 (B, T); out.logits F32 (B, T, V): transformers' fp32
                                    logits on those tokens (eager attention); out.logits_f64 F64: the same model
                                    run by transformers in float64 (how far fp32 rounding alone carries them)

The models are chosen so that a conversion that gets a detail wrong fails the tests' 1e-5 bar on the logits:
every weight is random (norm weights and biases too, so swapped norms or a dropped bias show), the vocabulary
(260) is not a multiple of Trident's padding (64) and holds the byte-level corpus (so the imported models
train on it in the CLI tests), LLaMA has grouped-query attention (4 heads, 2 kv heads), an
untied head, rope_theta 500 and rms_norm_eps 1e-4 (not the defaults), and the weights are large enough (std 0.1)
for GPT-2's GELU to tell tanh from erf and for RoPE's angles to matter, yet small enough that transformers'
own fp32 logits stay within 1e-6 of its float64 ones (at std 0.2 LLaMA's drift 7.6e-6, most of the bar). The script prints how far each such
mistake moves the logits (it must be more than 5x the bar) before writing anything.

Needs torch, transformers and safetensors (pip install transformers safetensors).
"""

import argparse
import copy
import os
import shutil

import torch
import transformers
from safetensors.torch import save_file

VOCAB = 260  # Trident pads it to 320 (vocab_pad_multiple 64 in the tiny configs); byte-level data fits (< 257)
B, T = 2, 16
BAR = 1e-5


def gpt2_config(**over):
    c = dict(vocab_size=VOCAB, n_positions=32, n_embd=32, n_layer=2, n_head=4, n_inner=None,
             activation_function="gelu_new", layer_norm_epsilon=1e-5, tie_word_embeddings=True,
             resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=VOCAB - 1, eos_token_id=VOCAB - 1)
    c.update(over)
    return transformers.GPT2Config(**c)


def llama_config(**over):
    c = dict(vocab_size=VOCAB, max_position_embeddings=32, hidden_size=32, intermediate_size=48,
             num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-4,
             rope_theta=500.0, tie_word_embeddings=False, hidden_act="silu", attention_bias=False,
             mlp_bias=False, bos_token_id=VOCAB - 1, eos_token_id=VOCAB - 1)
    c.update(over)
    return transformers.LlamaConfig(**c)


def randomize(model, seed):
    """Every parameter random: matrices N(0, 0.1^2), norm weights 1 + N(0, 0.1^2), biases N(0, 0.1^2)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if p.ndim == 1 and name.endswith("weight"):  # LayerNorm / RMSNorm gains
                p.copy_(1.0 + 0.1 * noise)
            elif p.ndim == 1:
                p.copy_(0.1 * noise)
            else:
                p.copy_(0.1 * noise)


def build(cls, config, seed):
    config._attn_implementation = "eager"
    model = cls(config).eval()
    randomize(model, seed)
    return model


def logits_of(model, tokens):
    with torch.no_grad():
        return model(tokens).logits.float()


def same_weights(src, dst):
    dst.load_state_dict(src.state_dict())
    return dst


def sensitivity(name, cls, make_config, seed, tokens, variants):
    """Max abs change of the logits when the model is read with one detail wrong; each must exceed 5x BAR."""
    ref_model = build(cls, make_config(), seed)
    ref = logits_of(ref_model, tokens)
    for label, over in variants:
        wrong = same_weights(ref_model, build(cls, make_config(**over), seed))
        d = (logits_of(wrong, tokens) - ref).abs().max().item()
        print(f"  {name}: {label} moves the logits by {d:.2e} (max abs)")
        assert d > 5 * BAR, f"{name}: the fixture cannot tell {label} apart"
    return ref_model, ref


def write(out, name, model, tokens, logits):
    with torch.no_grad():
        logits_f64 = copy.deepcopy(model).double()(tokens).logits
    print(f"  {name}: transformers' fp32 logits lie {(logits_f64 - logits.double()).abs().max().item():.2e} "
          f"from its float64 ones (max abs)")
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    model.save_pretrained(d, safe_serialization=True)
    meta = {"generator": "tools/reference/make_hf_fixture.py", "torch": torch.__version__,
            "transformers": transformers.__version__}
    save_file({"input.tokens": tokens.to(torch.int32).contiguous(), "out.logits": logits.contiguous(),
               "out.logits_f64": logits_f64.contiguous()},
              os.path.join(out, f"{name}_logits.safetensors"), metadata=meta)
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    print(f"wrote {os.path.normpath(d)}/ ({size} bytes) and {name}_logits.safetensors")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "tests", "hf"))
    args = ap.parse_args()
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1234)
    tokens = torch.randint(0, VOCAB, (B, T), generator=g)
    tokens[1, -1] = VOCAB - 1  # the last real row of the embedding and the head

    print(f"transformers {transformers.__version__}, torch {torch.__version__}; sensitivity (bar {BAR:g}):")
    gpt2, gpt2_logits = sensitivity(
        "gpt2", transformers.GPT2LMHeadModel, gpt2_config, 1, tokens,
        [("erf GELU instead of tanh", dict(activation_function="gelu")),
         ("layer_norm_epsilon 1e-3", dict(layer_norm_epsilon=1e-3))])
    llama, llama_logits = sensitivity(
        "llama", transformers.LlamaForCausalLM, llama_config, 2, tokens,
        [("rope_theta 1% high", dict(rope_theta=505.0)),
         ("rope_theta at its default (10000)", dict(rope_theta=10000.0)),
         ("rms_norm_eps at its default (1e-6)", dict(rms_norm_eps=1e-6))])

    os.makedirs(args.out, exist_ok=True)
    write(args.out, "gpt2", gpt2, tokens, gpt2_logits)
    write(args.out, "llama", llama, tokens, llama_logits)


if __name__ == "__main__":
    main()
