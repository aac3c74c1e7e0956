#pragma once
// Errors: a user mistake (config, data, paths, command line) throws trident::Error with one plain message;
// the CLI prints it and exits non-zero. Internal invariants use TRIDENT_CHECK, which names file and line.
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace trident {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace trident

#define TRIDENT_CHECK(cond, ...)                                                                     \
  do {                                                                                               \
    if (!(cond))                                                                                     \
      throw ::trident::Error(::fmt::format("{}:{}: check failed: {}: {}", __FILE__, __LINE__, #cond, \
                                           ::fmt::format(__VA_ARGS__)));                             \
  } while (0)
