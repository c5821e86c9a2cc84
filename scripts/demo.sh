#!/usr/bin/env bash
# The README's main command. Until generation exists, the most complete path
# is the DiT: verify it against the reference fixtures (when present) and
# benchmark a forward pass.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/build.sh
FIXTURES=${STEPVIDEO_FIXTURES:-../shared/fixtures}
if [[ -d "$FIXTURES" ]]; then
  ./build/stepvideo verify "$FIXTURES"/dit_tiny "$FIXTURES"/dit_odd "$FIXTURES"/dit_bf16weights \
    "$FIXTURES"/dit_4heads
else
  echo "demo: no reference fixtures at $FIXTURES; skipping verify"
fi
./build/stepvideo bench dit --layers 2 --reps 2
