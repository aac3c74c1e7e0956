#pragma once
// Helpers shared by the unit tests.
#include <string>

#include "core/runtime/error.h"

namespace trident::test {

// The message of the trident::Error that f throws ("" if it throws none).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace trident::test
