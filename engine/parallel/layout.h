// How the ranks of one engine group share a generation (ARCHITECTURE.md "Parallel runtime"):
//
//   cfg      1 or 2: the classifier-free-guidance branches (prompt, negative prompt) on separate
//            rank sets, which exchange only their predictions once per step;
//   ulysses  sequence parallelism by all-to-all: each rank holds a shard of the tokens, and for
//            attention the heads are redistributed so every rank attends all tokens for
//            heads/ulysses heads (the degree must divide the head count);
//   ring     sequence parallelism by passing key/value blocks around a ring, merging the
//            partial attention results by their log-sum-exp (any degree).
//
// world_size = cfg × ulysses × ring. Rank r has coordinates (cfg index, ring index, ulysses
// index) with r = (c · ring + g) · ulysses + u, so a Ulysses group is consecutive ranks (the
// closest GPUs), and its sequence shard is g · ulysses + u of ring · ulysses.
#ifndef VIDEOGEN_ENGINE_PARALLEL_LAYOUT_H_
#define VIDEOGEN_ENGINE_PARALLEL_LAYOUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace videogen::engine::parallel {

struct ParallelLayout {
  int cfg = 1;
  int ulysses = 1;
  int ring = 1;

  int world_size() const { return cfg * ulysses * ring; }
  // Ranks that split one branch's sequence.
  int sequence_size() const { return ulysses * ring; }
  // "cfg2xulysses2xring1".
  std::string ToString() const;
  bool operator==(const ParallelLayout& other) const {
    return cfg == other.cfg && ulysses == other.ulysses && ring == other.ring;
  }
};

// Parses "cfg<C>xulysses<U>xring<R>" (factors in any order, omitted ones 1; "" is 1 × 1 × 1).
// INVALID_ARGUMENT naming the bad part.
absl::StatusOr<ParallelLayout> ParseParallelLayout(absl::string_view text);

// OK if `layout` can run a model with `num_heads` attention heads: every degree ≥ 1, cfg ≤ 2
// (and 1 unless `guided`: an unguided generation has one branch), and ulysses dividing
// num_heads. INVALID_ARGUMENT naming the degree otherwise.
absl::Status ValidateLayout(const ParallelLayout& layout, int64_t num_heads, bool guided);

// Every layout of `world_size` ranks that ValidateLayout accepts, fastest first by the rule of
// engine/parallel/README.md: CFG-parallel first (one exchange of predictions per step), then the
// largest Ulysses degree (all-to-alls of each block's queries, keys and values), ring for the
// rest (keys and values passed around the ring in every block). Empty if none.
std::vector<ParallelLayout> CandidateLayouts(int world_size, int64_t num_heads, bool guided);

// The first of CandidateLayouts(); INVALID_ARGUMENT if there is none (world_size < 1).
absl::StatusOr<ParallelLayout> ChooseLayout(int world_size, int64_t num_heads, bool guided);

// A rank's place in a layout.
struct RankCoordinates {
  int cfg = 0;      // Which branch: 0 prompt, 1 negative prompt (with cfg = 2).
  int ring = 0;     // Position in its ring.
  int ulysses = 0;  // Position in its Ulysses group.

  // The index of its sequence shard among layout.sequence_size().
  int shard(const ParallelLayout& layout) const { return ring * layout.ulysses + ulysses; }
};

// `rank` in [0, layout.world_size()).
RankCoordinates CoordinatesOf(const ParallelLayout& layout, int rank);

}  // namespace videogen::engine::parallel

#endif  // VIDEOGEN_ENGINE_PARALLEL_LAYOUT_H_
