# Shared helpers for the `stepvideo train` / `encode-dataset` tests (sourced).
source "$(dirname "${BASH_SOURCE[0]}")/../jobs/lib.sh"

# make_clips DIR N: N real video files (ffmpeg's test sources, different hues
# and motion) and DIR/manifest.jsonl describing them.
make_clips() {
  local dir=$1 n=$2 i
  mkdir -p "$dir"
  : > "$dir/manifest.jsonl"
  for ((i = 0; i < n; i++)); do
    ffmpeg -loglevel error -y -f lavfi -i "testsrc=size=96x80:rate=8:duration=3" \
      -vf "hue=h=$((i * 360 / n)),crop=80:64:$((i % 3 * 8)):0" -pix_fmt yuv420p "$dir/clip$i.mp4"
    printf '{"id": "clip%d", "video": "clip%d.mp4", "caption": "test pattern number %d"}\n' "$i" "$i" "$i" \
      >> "$dir/manifest.jsonl"
  done
}

# make_dataset SV MODEL DIR N: clips and their encoded dataset in DIR/data.
make_dataset() {
  local sv=$1 model=$2 dir=$3 n=$4
  make_clips "$dir" "$n"
  "$sv" encode-dataset --model "$model" --manifest "$dir/manifest.jsonl" --out "$dir/data" --height 64 --width 64 \
    > "$dir/encode.log" 2>&1 || { cat "$dir/encode.log"; fail "encode-dataset failed"; }
}

# step,loss,grad_norm of every metrics line, exactly as written.
loss_lines() { jq -c '[.step, .loss, .grad_norm]' "$1"; }

# The launcher of the multi-rank tests as arrays: MPI from MPIEXEC ("mpirun -np"), MPI_FLAGS from MPIEXEC_FLAGS.
read_launcher() {
  read -r -a MPI <<< "$MPIEXEC"
  read -r -a MPI_FLAGS <<< "${MPIEXEC_FLAGS:-}"
}
