// CRC-32C (Castagnoli), the checksum TFRecord framing uses (TensorBoard event
// files). A table-driven software version: event files are small, so the
// SSE4.2 instruction is not worth a CPU dispatch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sv {

// CRC-32C of `size` bytes at `data`, continuing `crc` (the result of an
// earlier call, 0 to start), so data can be checksummed in pieces.
uint32_t crc32c_extend(uint32_t crc, const void* data, size_t size);

// CRC-32C of a whole buffer: crc32c("123456789") == 0xE3069283.
inline uint32_t crc32c(const void* data, size_t size) { return crc32c_extend(0, data, size); }
inline uint32_t crc32c(std::string_view data) { return crc32c_extend(0, data.data(), data.size()); }

}  // namespace sv
