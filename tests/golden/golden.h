#pragma once
// The golden checks, shared by the CPU test (tests/golden/test_golden.cpp) and the GPU one
// (tests/gpu/test_golden_gpu.cpp): Trident's GPT-2 and LLaMA against fixtures written by the PyTorch twin
// (tools/reference/make_golden.py, computed in float64). They need no PyTorch. The model lives on `device`
// (spec.device: parameters and activations); tokens and targets stay host tensors, and everything compared is
// copied to the host first (relative_l2 reads element by element).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "core/config/config.h"
#include "core/io/param_io.h"
#include "core/io/safetensors.h"
#include "core/optim/adamw.h"
#include "core/optim/lr_schedule.h"
#include "models/transformer.h"

namespace trident::golden {

struct Golden {
  config::Config cfg;
  io::TensorFile file;
  std::unique_ptr<models::Transformer> model;

  explicit Golden(const std::string& name, DType dtype = DType::f32, Device device = Device::cpu()) {
    const std::string dir = std::string(TRIDENT_SOURCE_DIR) + "/tests/golden/";
    cfg = load_config(dir + name + ".json");
    resolve(cfg);
    file = io::load_safetensors(dir + name + ".safetensors");
    models::ModelSpec spec = models::ModelSpec::from_config(cfg.model());
    spec.dtype = dtype;  // bf16: parameters (rounded on load) and activations stored in bf16
    spec.device = device;
    model = std::make_unique<models::Transformer>(spec);
    io::load_params(model->params(), file.tensors, "param.");
  }
  const Tensor& at(const std::string& key) const {
    auto it = file.tensors.find(key);
    if (it == file.tensors.end()) throw std::runtime_error("fixture has no " + key);
    return it->second;
  }
};

// The micro-batch's objective: the cross-entropy forward() returned plus an MoE model's auxiliary losses
// (load balancing and router z-loss, already weighted by their coefficients), as the twin's out.loss.
inline double objective(const Golden& g, const models::ModelActs& acts, double cross_entropy) {
  const models::Transformer::MoeLosses moe = g.model->moe_losses(acts);
  return cross_entropy + moe.aux + moe.z;
}

// A host copy of t (t itself when it is already there).
inline Tensor host(const Tensor& t) {
  return t.to(Device::cpu());
}

// One forward and backward on the fixture's batch in `dtype` on `device`, against the float64 twin: the loss
// and the logits within `rtol`, every gradient within `grad_rtol` (relative L2). In bf16 the bar for the
// logits and each gradient is at least twice the distance PyTorch's own bf16 run of the same model lands from
// the float64 truth (bf16.*; the same rule as expect_final_weights's for fp32): how far bf16 rounding carries
// them depends on the fixture (its init scale and nonlinearities), and the rounding of two implementations
// differs by chance, tensor by tensor (Trident lands 0.5 to 1.2 times PyTorch's distance).
inline void check_forward_backward(const std::string& name, DType dtype, Device device, double rtol,
                                   double grad_rtol) {
  Golden g(name, dtype, device);
  const auto bar = [&](double base, const std::string& key, const std::string& floor_key) {
    if (dtype != DType::bf16) return base;
    return std::max(base, 2.0 * relative_l2(g.at(floor_key), g.at(key)));
  };
  models::ModelActs acts;
  const double ce = g.model->forward(acts, g.at("input.tokens"), g.at("input.targets"));
  const double loss = objective(g, acts, ce);
  const double ref_loss = g.at("out.loss").item(0);
  EXPECT_NEAR(loss, ref_loss, rtol * std::abs(ref_loss));
  if (g.file.tensors.count("out.ce_loss")) {  // an MoE fixture: each term on its own
    const models::Transformer::MoeLosses moe = g.model->moe_losses(acts);
    for (const auto& [key, value] : {std::pair{"out.ce_loss", ce}, std::pair{"out.moe_aux_loss", moe.aux},
                                     std::pair{"out.moe_z_loss", moe.z}}) {
      const double ref = g.at(key).item(0);
      EXPECT_GT(ref, 0.0) << key;
      EXPECT_NEAR(value, ref, rtol * std::abs(ref)) << key;
    }
  }
  EXPECT_LE(relative_l2(host(acts.head.logits), g.at("out.logits")), bar(rtol, "out.logits", "bf16.logits"));
  g.model->params().zero_grads();
  g.model->backward(acts, 1.0);
  for (const Param& p : g.model->params().params()) {
    const std::string key = "grad." + p.name;
    EXPECT_LE(relative_l2(host(p.grad), g.at(key)), bar(grad_rtol, key, "bf16." + key)) << p.name;
  }
}

// Final weights (global tensors by name, every parameter of the fixture) against the float64 twin's
// train.final.*. Adam divides by sqrt(v), so fp32 rounding in a near-zero gradient element can move its
// weight by up to lr per step, and 10 steps at lr 1e-2 amplify it. The bar per tensor is twice the distance
// PyTorch's own fp32 run of the same steps lands from the float64 run (train.final_f32.*), and 1e-4 at least
// (PyTorch's fp32 run lands up to a few 1e-4 away on tensors such as gpt2's qkv.bias, whose key part has an
// exactly-zero true gradient that Trident keeps at zero).
inline void expect_final_weights(const io::TensorFile& fixture,
                                 const std::map<std::string, Tensor>& weights) {
  const std::string prefix = "train.final.";
  int checked = 0;
  for (const auto& [key, ref_final] : fixture.tensors) {
    if (key.rfind(prefix, 0) != 0) continue;
    const std::string name = key.substr(prefix.size());
    auto it = weights.find(name);
    if (it == weights.end()) {
      ADD_FAILURE() << "no final weight for " << name;
      continue;
    }
    const double floor = relative_l2(fixture.tensors.at("train.final_f32." + name), ref_final);
    EXPECT_LE(relative_l2(host(it->second), ref_final), std::max(1e-4, 2.0 * floor))
        << name << " (PyTorch fp32: " << floor << ")";
    ++checked;
  }
  EXPECT_GT(checked, 0) << "the fixture holds no train.final.* weights";
}

// Ten AdamW steps (clipping and the LR schedule included) in fp32 on `device`: every loss within 1e-5, every
// grad norm within 1e-4, the final weights within expect_final_weights's bar.
inline void check_ten_adamw_steps(const std::string& name, Device device) {
  Golden g(name, DType::f32, device);
  const auto& o = g.cfg.optim();
  AdamW optim(g.model->params(), {o.beta1(), o.beta2(), o.eps(), o.weight_decay()});
  const LrSchedule schedule{o.lr(), o.min_lr(), o.warmup_steps(), g.cfg.train().steps()};
  const Tensor& ref = g.at("train.losses");
  ASSERT_EQ(ref.numel(), 10);
  models::ModelActs acts;
  for (int64_t s = 0; s < 10; ++s) {
    g.model->params().zero_grads();
    const double loss =
        objective(g, acts, g.model->forward(acts, g.at("input.tokens"), g.at("input.targets")));
    EXPECT_NEAR(loss, ref.item(s), 1e-5 * std::abs(ref.item(s))) << "step " << s;
    g.model->backward(acts, 1.0);
    const double norm = clip_grad_norm(g.model->params(), o.grad_clip());
    EXPECT_NEAR(norm, g.at("train.grad_norms").item(s), 1e-4 * g.at("train.grad_norms").item(s))
        << "step " << s;
    EXPECT_NEAR(schedule.at(s), g.at("train.lrs").item(s), 1e-9) << "step " << s;
    optim.step(schedule.at(s));
  }
  std::map<std::string, Tensor> final_weights;
  for (const Param& p : g.model->params().params()) final_weights[p.name] = host(p.value);
  expect_final_weights(g.file, final_weights);
}

}  // namespace trident::golden
