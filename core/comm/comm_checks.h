#pragma once
// Argument checks shared by every Communicator backend, so a shape mistake reads the same on one rank as on
// many: each names the op, the group and the numbers that disagree.
#include <cstdint>
#include <string>
#include <vector>

#include "core/comm/communicator.h"

namespace trident::comm::checks {

void all_reduce(const Communicator& c, const Tensor& t);
void reduce_scatter(const Communicator& c, const Tensor& out, const Tensor& in);
void all_gather(const Communicator& c, const Tensor& out, const Tensor& in);
void broadcast(const Communicator& c, const Tensor& t, int root);
void peer(const Communicator& c, const char* op, const Tensor& t, int peer);
void all_to_all(const Communicator& c, const Tensor& out, const Tensor& in);
void all_to_allv(const Communicator& c, const Tensor& out, const std::vector<int64_t>& recv_counts,
                 const Tensor& in, const std::vector<int64_t>& send_counts);
// `ranks`: ascending ranks of c, containing c.rank().
void split(const Communicator& c, const std::vector<int>& ranks);

}  // namespace trident::comm::checks
