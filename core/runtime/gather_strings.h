#pragma once
// Short strings from every rank: a fixed-size all-gather, so no rank needs to know the others' lengths first.
#include <cstddef>
#include <string>
#include <vector>

#include "core/comm/communicator.h"

namespace trident {

// Every rank of `group` calls it together (one all-gather of max_bytes per rank). Returns each rank's
// string in rank order, each cut to max_bytes.
std::vector<std::string> all_gather_strings(comm::Communicator& group, const std::string& mine,
                                            size_t max_bytes);

}  // namespace trident
