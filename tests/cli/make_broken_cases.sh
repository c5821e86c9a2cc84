#!/usr/bin/env bash
# make_broken_cases.sh FIXTURES DIR: copies of the dit_tiny case with one
# thing broken each, for the CLI error tests.
set -euo pipefail
src=$1/dit_tiny dir=$2
rm -rf "$dir" && mkdir -p "$dir"

mkdir "$dir/missing_key"
for f in case.json io.safetensors model.safetensors; do ln -s "$(realpath "$src/$f")" "$dir/missing_key/$f"; done
grep -v '"num_layers"' "$src/config.json" >"$dir/missing_key/config.json"

mkdir "$dir/truncated_weights"
for f in case.json io.safetensors config.json; do ln -s "$(realpath "$src/$f")" "$dir/truncated_weights/$f"; done
head -c 1000000 "$src/model.safetensors" >"$dir/truncated_weights/model.safetensors"

mkdir "$dir/wrong_shape"
for f in case.json io.safetensors model.safetensors; do ln -s "$(realpath "$src/$f")" "$dir/wrong_shape/$f"; done
sed 's/"num_attention_heads": 2/"num_attention_heads": 3/' "$src/config.json" >"$dir/wrong_shape/config.json"

mkdir "$dir/missing_weights"
for f in case.json io.safetensors config.json; do ln -s "$(realpath "$src/$f")" "$dir/missing_weights/$f"; done
sed 's/"num_attention_heads": 2/"num_attention_heads": 4/' "$src/config.json" >"$dir/missing_weights/config.json.tmp"
mv "$dir/missing_weights/config.json.tmp" "$dir/missing_weights/config.json"
