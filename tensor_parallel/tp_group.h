#pragma once
// The tensor-parallel group a layer is split over: its size, this rank's index in it, and the communicator
// the mappings (mappings.h) run their collectives on. TpGroup{} is the group of one rank with no
// communicator: every layer then runs unsplit and every mapping is a local copy or a no-op.
#include "core/comm/communicator.h"
#include "core/runtime/error.h"

namespace trident::tp {

struct TpGroup {
  int size = 1;
  int rank = 0;
  comm::Communicator* comm = nullptr;  // required when size > 1

  // The group that spans `c`: size and rank are the communicator's.
  static TpGroup of(comm::Communicator& c) { return TpGroup{c.size(), c.rank(), &c}; }

  // Fails unless the group is usable: 0 <= rank < size, and size > 1 has a communicator of that size and
  // rank. `what` names the caller in the message.
  void check(const char* what) const {
    if (size < 1 || rank < 0 || rank >= size)
      fail("{}: tensor-parallel rank {} is not in a group of {}", what, rank, size);
    if (size == 1) return;
    if (comm == nullptr)
      fail("{} over a tensor-parallel group of {} ranks needs a communicator (TpGroup::of)", what, size);
    if (comm->size() != size || comm->rank() != rank) {
      fail("{}: tensor-parallel group says rank {} of {}, but communicator '{}' is rank {} of {}", what, rank,
           size, comm->name(), comm->rank(), comm->size());
    }
  }
};

}  // namespace trident::tp
