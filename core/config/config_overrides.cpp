// --set a.b.c=value: any scalar field (a list of scalars as comma-separated values), found and written by
// protobuf reflection, every value range-checked.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/config/config_fields.h"
#include "core/runtime/error.h"

namespace trident {
namespace config_detail {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

const FieldDescriptor* find_field(const Descriptor* type, const std::string& name) {
  if (const FieldDescriptor* f = type->FindFieldByName(name)) return f;
  for (int i = 0; i < type->field_count(); ++i)
    if (type->field(i)->json_name() == name) return type->field(i);
  return nullptr;
}

namespace {

// Levenshtein distance, for "did you mean" on a misspelt field.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

template <typename Int>
Int parse_int(const std::string& s, const char* type_name) {
  // from_chars rejects a leading '+', which people do write.
  const char* begin = s.data() + (!s.empty() && s[0] == '+' ? 1 : 0);
  const char* end = s.data() + s.size();
  if (std::is_unsigned_v<Int> && begin != end && *begin == '-') fail("'{}' is not a non-negative integer", s);
  Int v{};
  auto [ptr, ec] = std::from_chars(begin, end, v);
  if (ec == std::errc::result_out_of_range)
    fail("'{}' is out of range for {} ({}..{})", s, type_name, std::numeric_limits<Int>::min(),
         std::numeric_limits<Int>::max());
  if (ec != std::errc() || ptr != end || begin == end) fail("'{}' is not an integer", s);
  return v;
}

double parse_real(const std::string& s, bool is_float) {
  const char* begin = s.data() + (!s.empty() && s[0] == '+' ? 1 : 0);
  const char* end = s.data() + s.size();
  double v = 0;
  auto [ptr, ec] = std::from_chars(begin, end, v);
  if (ec == std::errc::result_out_of_range) fail("'{}' is out of range for double", s);
  if (ec != std::errc() || ptr != end || begin == end) fail("'{}' is not a number", s);
  if (!std::isfinite(v)) fail("'{}' is not a finite number", s);
  if (is_float && std::fabs(v) > std::numeric_limits<float>::max()) fail("'{}' is out of range for float", s);
  return v;
}

bool parse_bool(const std::string& s) {
  if (s == "true" || s == "True" || s == "1") return true;
  if (s == "false" || s == "False" || s == "0") return false;
  fail("'{}' is not a bool (true or false)", s);
}

void set_scalar_or_throw(Message& msg, const FieldDescriptor* field, const std::string& value) {
  const Reflection* r = msg.GetReflection();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      r->SetInt32(&msg, field, parse_int<int32_t>(value, "int32"));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      r->SetInt64(&msg, field, parse_int<int64_t>(value, "int64"));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      r->SetUInt32(&msg, field, parse_int<uint32_t>(value, "uint32"));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      r->SetUInt64(&msg, field, parse_int<uint64_t>(value, "uint64"));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      r->SetFloat(&msg, field, static_cast<float>(parse_real(value, /*is_float=*/true)));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      r->SetDouble(&msg, field, parse_real(value, false));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      r->SetBool(&msg, field, parse_bool(value));
      break;
    case FieldDescriptor::CPPTYPE_STRING:
      r->SetString(&msg, field, value);
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const auto* type = field->enum_type();
      const auto* by_name = type->FindValueByName(value);
      if (by_name) {
        r->SetEnum(&msg, field, by_name);
        break;
      }
      std::vector<std::string> names;
      for (int i = 0; i < type->value_count(); ++i) names.push_back(type->value(i)->name());
      fail("'{}' is not one of {}", value, fmt::join(names, ", "));
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      fail("'{}' is a message, not a value", field->name());
  }
}

// One element appended to a repeated scalar field.
void add_scalar_or_throw(Message& msg, const FieldDescriptor* field, const std::string& value) {
  const Reflection* r = msg.GetReflection();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return r->AddInt32(&msg, field, parse_int<int32_t>(value, "int32"));
    case FieldDescriptor::CPPTYPE_INT64:
      return r->AddInt64(&msg, field, parse_int<int64_t>(value, "int64"));
    case FieldDescriptor::CPPTYPE_UINT32:
      return r->AddUInt32(&msg, field, parse_int<uint32_t>(value, "uint32"));
    case FieldDescriptor::CPPTYPE_UINT64:
      return r->AddUInt64(&msg, field, parse_int<uint64_t>(value, "uint64"));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return r->AddFloat(&msg, field, static_cast<float>(parse_real(value, /*is_float=*/true)));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return r->AddDouble(&msg, field, parse_real(value, false));
    case FieldDescriptor::CPPTYPE_BOOL:
      return r->AddBool(&msg, field, parse_bool(value));
    case FieldDescriptor::CPPTYPE_STRING:
      return r->AddString(&msg, field, value);
    default:
      fail("'{}' is a list of {}, which cannot be set this way", field->name(), field->cpp_type_name());
  }
}

}  // namespace

std::string no_field_message(const Descriptor* type, const std::string& name, const std::string& where) {
  std::vector<std::string> names;
  std::string best;
  size_t best_distance = 3;  // suggest only near misses
  for (int i = 0; i < type->field_count(); ++i) {
    names.push_back(type->field(i)->name());
    size_t d = edit_distance(name, type->field(i)->name());
    if (d < best_distance) best_distance = d, best = type->field(i)->name();
  }
  std::string hint = best.empty() ? "" : fmt::format("; did you mean '{}'?", best);
  return fmt::format("no field '{}' in {} (fields: {}){}", name, where.empty() ? "the config" : where,
                     fmt::join(names, ", "), hint);
}

void set_scalar(Message& msg, const FieldDescriptor* field, const std::string& value,
                const std::string& what) {
  try {
    if (field->is_repeated()) {
      // A list replaces the whole field: "1,3" -> [1, 3]; "" -> [].
      msg.GetReflection()->ClearField(&msg, field);
      for (size_t start = 0; !value.empty() && start <= value.size();) {
        const size_t comma = std::min(value.find(',', start), value.size());
        add_scalar_or_throw(msg, field, value.substr(start, comma - start));
        start = comma + 1;
      }
      return;
    }
    set_scalar_or_throw(msg, field, value);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", what, e.what()));
  }
}

}  // namespace config_detail

namespace {

void apply_override(config::Config& cfg, const std::string& set) {
  const std::string what = "--set " + set;
  size_t eq = set.find('=');
  if (eq == std::string::npos) fail("{}: expected path=value, e.g. train.lr=3e-4", what);
  std::string path = set.substr(0, eq);
  std::string value = set.substr(eq + 1);
  if (path.empty()) fail("{}: the field path before '=' is empty", what);

  google::protobuf::Message* msg = &cfg;
  std::string where;  // dotted path of `msg`
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string name = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (name.empty()) fail("{}: empty name in field path '{}'", what, path);
    const auto* field = config_detail::find_field(msg->GetDescriptor(), name);
    if (!field) fail("{}: {}", what, config_detail::no_field_message(msg->GetDescriptor(), name, where));
    where += (where.empty() ? "" : ".") + field->name();
    bool last = dot == std::string::npos;
    if (field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE && !field->is_repeated()) {
      if (last) {
        std::vector<std::string> names;
        for (int i = 0; i < field->message_type()->field_count(); ++i)
          names.push_back(where + "." + field->message_type()->field(i)->name());
        fail("{}: '{}' is a group of settings, not a value; set one of its fields ({})", what, where,
             fmt::join(names, ", "));
      }
      msg = msg->GetReflection()->MutableMessage(msg, field);
      start = dot + 1;
      continue;
    }
    if (!last) fail("{}: '{}' is a value, it has no field '{}'", what, where, path.substr(dot + 1));
    config_detail::set_scalar(*msg, field, value, what);
    return;
  }
}

}  // namespace

void apply_overrides(config::Config& cfg, const std::vector<std::string>& sets) {
  for (const std::string& set : sets) apply_override(cfg, set);
}

}  // namespace trident
