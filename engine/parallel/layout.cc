#include "engine/parallel/layout.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace videogen::engine::parallel {

std::string ParallelLayout::ToString() const {
  return absl::StrCat("cfg", cfg, "xulysses", ulysses, "xring", ring);
}

absl::StatusOr<ParallelLayout> ParseParallelLayout(absl::string_view text) {
  ParallelLayout layout;
  if (text.empty()) return layout;
  for (absl::string_view part : absl::StrSplit(text, 'x')) {
    int* degree = nullptr;
    absl::string_view number;
    for (auto [name, field] : {std::pair<absl::string_view, int*>{"cfg", &layout.cfg},
                               {"ulysses", &layout.ulysses},
                               {"ring", &layout.ring}}) {
      if (absl::StartsWith(part, name)) {
        degree = field;
        number = part.substr(name.size());
      }
    }
    int value = 0;
    if (degree == nullptr || !absl::SimpleAtoi(number, &value) || value < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("parallel layout \"", text, "\": \"", part,
                       "\" is not cfg<N>, ulysses<N> or ring<N> with N >= 1"));
    }
    *degree = value;
  }
  return layout;
}

absl::Status ValidateLayout(const ParallelLayout& layout, int64_t num_heads, bool guided) {
  if (layout.cfg < 1 || layout.ulysses < 1 || layout.ring < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("parallel layout ", layout.ToString(), ": every degree must be >= 1"));
  }
  if (layout.cfg > (guided ? 2 : 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "parallel layout ", layout.ToString(), ": cfg must be ", guided ? "1 or 2" : "1",
        guided ? " (a guided generation has two branches)"
               : " (a generation without guidance has one branch)"));
  }
  if (num_heads % layout.ulysses != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "parallel layout ", layout.ToString(), ": the Ulysses degree must divide the model's ",
        num_heads, " attention heads; use a ring degree for the rest"));
  }
  return absl::OkStatus();
}

std::vector<ParallelLayout> CandidateLayouts(int world_size, int64_t num_heads, bool guided) {
  std::vector<ParallelLayout> layouts;
  for (int cfg : {2, 1}) {
    if (world_size < 1 || world_size % cfg != 0) continue;
    const int sequence = world_size / cfg;
    for (int ulysses = sequence; ulysses >= 1; --ulysses) {
      if (sequence % ulysses != 0) continue;
      const ParallelLayout layout{cfg, ulysses, sequence / ulysses};
      if (ValidateLayout(layout, num_heads, guided).ok()) layouts.push_back(layout);
    }
  }
  return layouts;
}

absl::StatusOr<ParallelLayout> ChooseLayout(int world_size, int64_t num_heads, bool guided) {
  const std::vector<ParallelLayout> layouts = CandidateLayouts(world_size, num_heads, guided);
  if (layouts.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no parallel layout for a world of ", world_size, " ranks"));
  }
  return layouts.front();
}

RankCoordinates CoordinatesOf(const ParallelLayout& layout, int rank) {
  RankCoordinates coordinates;
  coordinates.ulysses = rank % layout.ulysses;
  coordinates.ring = (rank / layout.ulysses) % layout.ring;
  coordinates.cfg = rank / layout.sequence_size();
  return coordinates;
}

}  // namespace videogen::engine::parallel
