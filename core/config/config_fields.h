#pragma once
// Internal to core/config: field lookup and the one scalar setter shared by --set and the JSON loader, so
// both accept the same spellings and report the same mistakes.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <string>

namespace trident::config_detail {

// The field called `name` (proto name, or its lowerCamel JSON name) in `type`, or nullptr.
const google::protobuf::FieldDescriptor* find_field(const google::protobuf::Descriptor* type,
                                                    const std::string& name);

// "no field 'stpes' in train (fields: steps, micro_batch_size, ...); did you mean 'steps'?"; `where` is the
// dotted path of the enclosing message ("train"), or "" for the top level.
std::string no_field_message(const google::protobuf::Descriptor* type, const std::string& name,
                             const std::string& where);

// Sets scalar `field` of `msg` from its text form. On a bad value throws trident::Error("<what>: <reason>").
void set_scalar(google::protobuf::Message& msg, const google::protobuf::FieldDescriptor* field,
                const std::string& value, const std::string& what);

}  // namespace trident::config_detail
