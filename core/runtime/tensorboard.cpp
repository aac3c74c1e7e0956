#include "core/runtime/tensorboard.h"

namespace trident {

namespace {

void flatten(const nlohmann::json& value, const std::string& tag,
             std::vector<std::pair<std::string, double>>& out) {
  if (value.is_object()) {
    for (const auto& [key, v] : value.items()) flatten(v, tag.empty() ? key : tag + "/" + key, out);
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) flatten(value[i], tag + "/" + std::to_string(i), out);
  } else if (value.is_boolean()) {
    out.emplace_back(tag, value.get<bool>() ? 1.0 : 0.0);
  } else if (value.is_number()) {
    out.emplace_back(tag, value.get<double>());
  }
}

}  // namespace

std::vector<std::pair<std::string, double>> scalar_tags(const nlohmann::json& row) {
  std::vector<std::pair<std::string, double>> out;
  if (!row.is_object()) return out;
  for (const auto& [key, v] : row.items())
    if (key != "step") flatten(v, key, out);
  return out;
}

void TensorBoardSink::write(const nlohmann::json& row) {
  if (row.is_object() && row.contains("step") && row["step"].is_number_integer())
    last_step_ = row["step"].get<int64_t>();
  std::vector<std::pair<std::string, float>> scalars;
  for (const auto& [tag, value] : scalar_tags(row)) scalars.emplace_back(tag, static_cast<float>(value));
  if (!scalars.empty()) events_.add_scalars(last_step_, scalars);
}

void TensorBoardSink::resume_after(int64_t step) {
  events_.add_session_start(step + 1);
  last_step_ = step;
}

}  // namespace trident
