#pragma once
// The tensor-parallel group a layer is split over. Until the communicator lands, only a group of size 1
// exists; f and g (mappings.h) are then identities and the layers below run unsplit with full shard specs.
namespace trident::tp {

struct TpGroup {
  int size = 1;
  int rank = 0;
};

}  // namespace trident::tp
