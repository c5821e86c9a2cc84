#!/usr/bin/env bash
# make_bad_inputs.sh DIR: writes malformed weight files for the CLI tests,
# byte by byte, so the tests need nothing but bash and coreutils.
set -euo pipefail
dir=$1
rm -rf "$dir" && mkdir -p "$dir"

# write_st FILE HEADER_JSON DATA_BYTES: a safetensors file whose header is padded to 8 bytes.
write_st() {
  local file=$1 header=$2 data_bytes=$3
  while (( ${#header} % 8 != 0 )); do header+=" "; done
  local n=${#header}
  # little-endian u64 header length
  printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x\\x00\\x00\\x00\\x00' $((n & 255)) $(((n >> 8) & 255)) $(((n >> 16) & 255)) $(((n >> 24) & 255)))" >"$file"
  printf '%s' "$header" >>"$file"
  head -c "$data_bytes" /dev/zero >>"$file"
}

write_st "$dir/good.safetensors" '{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}' 16
head -c -6 "$dir/good.safetensors" >"$dir/truncated.safetensors"
write_st "$dir/outside.safetensors" '{"w":{"dtype":"F32","shape":[16],"data_offsets":[0,64]}}' 8
write_st "$dir/dtype.safetensors" '{"w":{"dtype":"Q8","shape":[4],"data_offsets":[0,4]}}' 4
printf 'abc' >"$dir/tiny.safetensors"
