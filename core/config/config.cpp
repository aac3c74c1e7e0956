// Loading a config (protobuf text format or JSON) over the defaults, writing it back, and hashing it.
#include "core/config/config.h"

#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <system_error>
#include <vector>

#include "core/config/config_fields.h"
#include "core/runtime/error.h"

namespace trident {

namespace {

namespace pb = google::protobuf;

// Turns protobuf's parse errors into "file:line:col: message" lines (protobuf counts from 0, editors from 1).
class TextErrors : public pb::io::ErrorCollector {
 public:
  TextErrors(std::string name, const std::string& text) : name_(std::move(name)) {
    std::stringstream lines(text);
    for (std::string line; std::getline(lines, line);) lines_.push_back(line);
  }

  void AddError(int line, pb::io::ColumnNumber column, const std::string& message) override {
    // 'Message type "trident.config.TrainConfig" has no field named "stpes".' reads better with the fields
    // that do exist, and pointing at the name rather than at the token after it.
    static const std::regex no_field(R"re(Message type "([\w.]+)" has no field named "(\w+)"\.?)re");
    std::string text = message;
    std::smatch m;
    const pb::Descriptor* type = nullptr;
    if (std::regex_match(message, m, no_field))
      type = pb::DescriptorPool::generated_pool()->FindMessageTypeByName(m[1]);
    if (type) {
      text = config_detail::no_field_message(type, m[2], m[1]);
      if (line >= 0 && line < static_cast<int>(lines_.size())) {
        size_t at = lines_[line].rfind(m[2].str(), column);
        if (at != std::string::npos) column = static_cast<pb::io::ColumnNumber>(at);
      }
    }
    if (!errors_.empty()) errors_ += "\n";
    errors_ += fmt::format("{}:{}:{}: {}", name_, line + 1, column + 1, text);
  }

  const std::string& errors() const { return errors_; }

 private:
  std::string name_;
  std::vector<std::string> lines_;
  std::string errors_;
};

std::string read_file(const std::string& path) {
  if (path.empty()) fail("no config file given (the path is empty)");
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail("config file '{}' does not exist", path);
  if (std::filesystem::is_directory(path, ec)) fail("config file '{}' is a directory, not a file", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open config file '{}'", path);
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) fail("cannot read config file '{}'", path);
  return buf.str();
}

// Line and column (from 1) of a byte offset, for JSON errors.
std::pair<int, int> line_col(const std::string& text, size_t offset) {
  int line = 1, col = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n')
      ++line, col = 1;
    else
      ++col;
  }
  return {line, col};
}

// Applies one JSON object to `msg`, leaf by leaf, through the same setter --set uses; `where` is the dotted
// path of `msg` ("" at the top).
void apply_json(pb::Message& msg, const nlohmann::json& obj, const std::string& where,
                const std::string& name) {
  const std::string here = where.empty() ? "the top level" : "'" + where + "'";
  if (!obj.is_object()) fail("{}: {} must be a JSON object, got {}", name, here, obj.dump());
  for (const auto& [key, value] : obj.items()) {
    const pb::FieldDescriptor* field = config_detail::find_field(msg.GetDescriptor(), key);
    if (!field) fail("{}: {}", name, config_detail::no_field_message(msg.GetDescriptor(), key, where));
    const std::string path = where.empty() ? field->name() : where + "." + field->name();
    if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE && !field->is_repeated()) {
      apply_json(*msg.GetReflection()->MutableMessage(&msg, field), value, path, name);
      continue;
    }
    const std::string what = fmt::format("{}: {}", name, path);
    if (field->is_repeated() && value.is_array()) {
      std::string joined;  // one --set-style list: "1,3"; [] clears
      for (size_t i = 0; i < value.size(); ++i) {
        const nlohmann::json& e = value[i];
        if (e.is_object() || e.is_array() || e.is_null())
          fail("{}: expected a list of single values, got {}", what, value.dump());
        joined += (i ? "," : "") + (e.is_string() ? e.get<std::string>() : e.dump());
      }
      config_detail::set_scalar(msg, field, joined, what);
      continue;
    }
    if (value.is_object() || value.is_array() || value.is_null())
      fail("{}: expected a single value, got {}", what, value.dump());
    if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING && !value.is_string())
      fail("{}: expected a string, got {}", what, value.dump());
    // Numbers and bools go through their JSON spelling; quoted numbers are accepted as protobuf's JSON does.
    config_detail::set_scalar(msg, field, value.is_string() ? value.get<std::string>() : value.dump(), what);
  }
}

// TextFormat skips proto3 fields equal to zero, but zero here can differ from the default (weight_decay 0),
// so every field is written out.
void print_all_fields(const pb::Message& msg, int depth, std::string& out) {
  const std::string indent(2 * depth, ' ');
  const pb::Reflection* r = msg.GetReflection();
  for (int i = 0; i < msg.GetDescriptor()->field_count(); ++i) {
    const pb::FieldDescriptor* field = msg.GetDescriptor()->field(i);
    int count = field->is_repeated() ? r->FieldSize(msg, field) : 1;
    for (int k = 0; k < count; ++k) {
      int index = field->is_repeated() ? k : -1;
      if (field->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        out += indent + field->name() + " {\n";
        print_all_fields(index < 0 ? r->GetMessage(msg, field) : r->GetRepeatedMessage(msg, field, k),
                         depth + 1, out);
        out += indent + "}\n";
        continue;
      }
      std::string value;
      pb::TextFormat::PrintFieldValueToString(msg, field, index, &value);
      out += indent + field->name() + ": " + value + "\n";
    }
  }
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

config::Config parse_config_text(const std::string& text, const std::string& name) {
  TextErrors errors(name, text);
  pb::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  // A fresh parse first, which also rejects a field given twice; then the same text merged over the
  // defaults, where every field written in the file, zeros included, replaces its default.
  config::Config fresh;
  if (!parser.ParseFromString(text, &fresh)) fail("{}", errors.errors());
  config::Config cfg = default_config();
  if (!parser.MergeFromString(text, &cfg)) fail("{}", errors.errors());
  return cfg;
}

config::Config parse_config_json(const std::string& text, const std::string& name) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 3, column 5: syntax error ..." -> the last part.
    std::string what = e.what();
    size_t colon = what.find(": ");
    std::string reason = colon == std::string::npos ? what : what.substr(colon + 2);
    auto [line, col] = line_col(text, e.byte > 0 ? e.byte - 1 : 0);
    fail("{}:{}:{}: invalid JSON: {}", name, line, col, reason);
  }
  config::Config cfg = default_config();
  apply_json(cfg, j, "", name);
  return cfg;
}

config::Config load_config(const std::string& path) {
  bool is_text = ends_with(path, ".pbtxt") || ends_with(path, ".txtpb") || ends_with(path, ".textproto");
  bool is_json = ends_with(path, ".json");
  if (!path.empty() && !is_text && !is_json)
    fail("config file '{}': unknown format; name it .pbtxt (protobuf text format) or .json", path);
  std::string text = read_file(path);
  return is_json ? parse_config_json(text, path) : parse_config_text(text, path);
}

std::string to_text(const config::Config& cfg) {
  std::string out;
  print_all_fields(cfg, 0, out);
  return out;
}

uint64_t config_hash(const config::Config& cfg) {
  std::string bytes;
  {
    pb::io::StringOutputStream stream(&bytes);
    pb::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    cfg.SerializeToCodedStream(&coded);
  }
  uint64_t h = 14695981039346656037ull;  // FNV-1a, 64-bit
  for (unsigned char byte : bytes) {
    h ^= byte;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace trident
