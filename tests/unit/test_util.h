#pragma once
// Helpers shared by the unit tests.
#include <gtest/gtest.h>

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

// EXPECT that the string `haystack` contains `needle`, printing the haystack when it does not.
#define EXPECT_CONTAINS(haystack, needle)                                                         \
  do {                                                                                            \
    const std::string h_ = (haystack);                                                            \
    EXPECT_NE(h_.find(needle), std::string::npos) << "expected '" << (needle) << "' in:\n" << h_; \
  } while (0)
