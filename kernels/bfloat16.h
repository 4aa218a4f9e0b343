// bfloat16 as a plain 16-bit value type, bit-compatible with CUDA's __nv_bfloat16 and LibTorch's
// c10::BFloat16, so CPU references and host code can handle bf16 buffers without CUDA headers.
#ifndef VIDEOGEN_KERNELS_BFLOAT16_H_
#define VIDEOGEN_KERNELS_BFLOAT16_H_

#include <cstdint>
#include <cstring>

namespace videogen::kernels {

struct BFloat16 {
  uint16_t bits = 0;
};
static_assert(sizeof(BFloat16) == 2, "BFloat16 must be 16 bits");

// Rounds to nearest, ties to even, as the GPU's __float2bfloat16 does; NaN stays NaN.
inline BFloat16 ToBFloat16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return BFloat16{static_cast<uint16_t>((bits >> 16) | 0x40)};
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return BFloat16{static_cast<uint16_t>(bits >> 16)};
}

inline float ToFloat(BFloat16 value) {
  const uint32_t bits = static_cast<uint32_t>(value.bits) << 16;
  float result;
  std::memcpy(&result, &bits, sizeof(result));
  return result;
}

inline float ToFloat(float value) { return value; }

// Rounds a float32 to T (float: unchanged; BFloat16: ToBFloat16), for code generic over both.
template <typename T>
T FromFloat(float value);
template <>
inline float FromFloat<float>(float value) {
  return value;
}
template <>
inline BFloat16 FromFloat<BFloat16>(float value) {
  return ToBFloat16(value);
}

}  // namespace videogen::kernels

#endif  // VIDEOGEN_KERNELS_BFLOAT16_H_
