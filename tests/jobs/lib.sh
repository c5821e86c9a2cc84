# Shared helpers for the `stepvideo run` integration tests (sourced, not run).
# They read run outputs with grep/awk/ffprobe (and jq, which scripts/setup.sh
# installs, where a JSON document is compared as a whole).

fail() { echo "FAIL: $*" >&2; exit 1; }
note() { echo "--- $*"; }

# Items fast on the tiny model with one thread.
TINY_ARGS=(--frames 17 --height 64 --width 64 --steps 6)

# run_rc VAR CMD...: runs CMD, stores its exit status in VAR (set -e stays on).
run_rc() {
  local __var=$1; shift
  local __rc=0
  "$@" || __rc=$?
  printf -v "$__var" '%s' "$__rc"
}

# Decoded frame count of a video (empty when it does not decode).
frames_of() {
  ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
    -of csv=p=0 "$1" 2>/dev/null || true
}

# expect_video FILE FRAMES: the file exists under its final name and decodes fully.
expect_video() {
  [[ -f $1 ]] || fail "$1 is missing"
  local n
  n=$(frames_of "$1")
  [[ $n == "$2" ]] || fail "$1 decodes to '${n}' frames, expected $2"
}

# Decoded frames as md5 lines, without the header (container metadata differs run to run).
frame_md5() { ffmpeg -v error -i "$1" -f framemd5 - | grep -v '^#'; }

# same_frames A B: decoded frames of two videos are identical.
same_frames() {
  local a b
  a=$(frame_md5 "$1") || fail "$1 does not decode"
  b=$(frame_md5 "$2") || fail "$2 does not decode"
  [[ -n $a && $a == "$b" ]] || fail "decoded frames of $2 differ from $1"
}

# journal_count JOURNAL EVENT ID: how many EVENT records the journal has for ID.
journal_count() {
  [[ -f $1 ]] || { echo 0; return; }
  grep -F "\"event\":\"$2\"" "$1" | grep -cF "\"id\":\"$3\"" || true
}

# Every journal record is a whole line of JSON (a torn tail must have been repaired).
expect_journal_whole() {
  local bad
  bad=$(grep -cvE '^\{.*\}$' "$1" || true)
  [[ $bad == 0 ]] || fail "$1 has $bad line(s) that are not whole JSON records"
  [[ -z $(tail -c1 "$1") ]] || fail "$1 does not end with a newline"
}

# summary_flat FILE: the pretty-printed summary on one line, runs of blanks squeezed.
summary_flat() { tr '\n' ' ' <"$1" | tr -s ' \t' ' '; }

# summary_count FILE KEY: one of the summary's counts.
summary_count() {
  summary_flat "$1" | grep -oE "\"$2\": ?[0-9]+" | head -n1 | grep -oE '[0-9]+$' || true
}

# summary_status FILE: the run's status field.
summary_status() {
  summary_flat "$1" | grep -oE '^\{ ?"status": ?"[^"]*"' | sed -E 's/.*"([^"]*)"$/\1/' || true
}

# expect_no_leftovers OUT: nothing half-written or stale remains in OUT.
expect_no_leftovers() {
  local left
  left=$(find "$1" -name '.tmp.*' | head -n5)
  [[ -z $left ]] || fail "temporary files left behind: $left"
  if [[ -d $1/.partial ]]; then
    left=$(find "$1/.partial" -mindepth 1 | head -n5)
    [[ -z $left ]] || fail "saved states left in .partial: $left"
  fi
  [[ ! -e $1/run.lock ]] || fail "$1/run.lock was not removed"
}

# status_text VAR OUT EXIT: `stepvideo status --out OUT` into VAR; fails unless it exits EXIT
# (0 complete or running, 9 with failures or bad lines, 75 preempted, 1 failed or crashed).
status_text() {
  local __var=$1 __out=$2 __want=$3 __text __rc=0
  __text=$("$sv" status --out "$__out" 2>&1) || __rc=$?
  [[ $__rc == "$__want" ]] || fail "status --out $__out exited $__rc, expected $__want: $__text"
  printf -v "$__var" '%s' "$__text"
}
