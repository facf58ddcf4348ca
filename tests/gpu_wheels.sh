#!/usr/bin/env bash
# Put into DIR every wheel the GPU smoke test (tests/gpu_smoke.sh) installs: tests/gpu_wheels.txt's pins for
# Python 3.12 on Linux x86_64, downloaded from the package index, and DeepSpeed, which PyPI has as source
# only, built here into a wheel. Run it beforehand on any machine that reaches the index, then carry DIR
# to the GPU machine.
#
#   bash tests/gpu_wheels.sh DIR           # ~40 MiB: numpy, pandas and pyarrow are expected on the GPU machine
#   bash tests/gpu_wheels.sh --all DIR     # those too (~120 MiB), for a machine that has only torch
#   PYTHON=/path/to/python3 bash tests/gpu_wheels.sh DIR   # the interpreter that runs pip (python3)
#
# Prints each wheel with its size and the total; stops, naming it, when the default set passes 64 MiB.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "gpu_wheels.sh: $*" >&2; exit 1; }
usage() { sed -n '7,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

ALL=0
case ${1:-} in
  --all) ALL=1; shift ;;
  -h|--help|"") usage ;;
esac
[[ $# -eq 1 && $1 != -* ]] || usage
mkdir -p "$1"
DIR=$(cd "$1" && pwd)  # as given, from where it was given; then everything runs from the repository's root
cd "$REPO"
PY=${PYTHON:-python3}
LIST=tests/gpu_wheels.txt
LIMIT_MIB=64
command -v "$PY" >/dev/null 2>&1 || die "interpreter '$PY' not found (set PYTHON=...)"

# The pins of LIST, "name==version": $1 = "source" for those built here, "" for those downloaded (the
# "machine" ones only with --all).
pins() {
  local tag=$1 line
  while IFS= read -r line; do
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    if [[ -z $tag && $line != *"# source"* && ( $ALL == 1 || $line != *"# machine"* ) ]] || [[ -n $tag && $line == *"# $tag"* ]]; then
      echo "${line%%#*}" | tr -d ' '
    fi
  done <"$LIST"
}

# pip matches --platform exactly: these are the manylinux tags of the pinned wheels and any glibc >= 2.28.
platforms=()
for tag in manylinux_2_28 manylinux_2_27 manylinux_2_24 manylinux_2_17 manylinux2014 manylinux1; do
  platforms+=(--platform "${tag}_x86_64")
done
echo "gpu_wheels.sh: downloading $(pins "" | wc -l) wheels for Python 3.12, Linux x86_64, into $DIR"
# pip warns about every mirror location it skips; keep errors, drop that noise.
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 \
  "${platforms[@]}" -d "$DIR" -r <(pins "") 2> >(grep -v "is ignored: it is neither a file" >&2) \
  || die "pip download failed (is the package index reachable?)"
for pin in $(pins source); do
  echo "gpu_wheels.sh: building $pin into a wheel (its source is all PyPI has)"
  # DS_BUILD_OPS=0 (DeepSpeed's default): no extension is compiled here, so the wheel is pure Python and runs
  # with any torch; its CUDA ops compile on the GPU machine when first used.
  DS_BUILD_OPS=0 "$PY" -m pip wheel -q --no-deps --no-binary "${pin%%==*}" -w "$DIR" "$pin" \
    2> >(grep -v "is ignored: it is neither a file" >&2) || die "building $pin failed"
done

total=0
while read -r size name; do
  printf '%8.2f MiB  %s\n' "$(echo "$size / 1048576" | bc -l)" "$name"
  total=$((total + size))
done < <(find "$DIR" -maxdepth 1 -name '*.whl' -printf '%s %f\n' | sort -k2)
count=$(find "$DIR" -maxdepth 1 -name '*.whl' | wc -l)
echo "gpu_wheels.sh: $count wheels, $(echo "scale=2; $total / 1048576" | bc) MiB in $DIR"
if [[ $ALL == 0 ]] && ((total > LIMIT_MIB * 1048576)); then
  die "the wheels pass $LIMIT_MIB MiB; see the list above"
fi
