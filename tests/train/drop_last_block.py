#!/usr/bin/env python3
"""drop_last_block.py MODEL_DIR: turns a copy of a model directory into another
valid model, one transformer block shorter (config, shards and index
rewritten), for tests that need "a checkpoint of another model". Standard
library only."""
import json
import os
import struct
import sys


def main():
    transformer = os.path.join(sys.argv[1], "transformer")
    config_path = os.path.join(transformer, "config.json")
    with open(config_path) as f:
        config = json.load(f)
    config["num_layers"] -= 1
    prefix = f"transformer_blocks.{config['num_layers']}."
    index_path = os.path.join(transformer, "diffusion_pytorch_model.safetensors.index.json")
    with open(index_path) as f:
        index = json.load(f)
    total = 0
    for shard in sorted(set(index["weight_map"].values())):
        path = os.path.join(transformer, shard)
        with open(path, "rb") as f:
            blob = f.read()
        (header_len,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8:8 + header_len])
        data = blob[8 + header_len:]
        kept, body = {}, bytearray()
        for name, info in header.items():
            if name == "__metadata__":
                kept[name] = info
                continue
            if name.startswith(prefix):
                continue
            begin, end = info["data_offsets"]
            kept[name] = dict(info, data_offsets=[len(body), len(body) + end - begin])
            body += data[begin:end]
        text = json.dumps(kept).encode()
        text += b" " * (-len(text) % 8)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + bytes(body))
        total += len(body)
    index["weight_map"] = {k: v for k, v in index["weight_map"].items() if not k.startswith(prefix)}
    index.setdefault("metadata", {})["total_size"] = total
    with open(index_path, "w") as f:
        json.dump(index, f)
    with open(config_path, "w") as f:
        json.dump(config, f)


if __name__ == "__main__":
    main()
