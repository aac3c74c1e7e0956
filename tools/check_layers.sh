#!/usr/bin/env bash
# check_layers.sh ROOT: fails, naming the file and line, when a source includes a header from a folder above
# its own in the dependency order core <- tensor_parallel <- moe <- models <- pipeline, zero <- train <- tools.
# Run by every build (CMakeLists.txt, target check_layers): a wrong-way include fails to build.
set -u
root="${1:-.}"
status=0
check() {  # check FOLDER FORBIDDEN...
  local folder="$1"
  shift
  [ -d "$root/$folder" ] || return 0
  for above in "$@"; do
    while IFS= read -r hit; do
      echo "check_layers: $hit: $folder/ may not include $above/ (layers: core <- tensor_parallel <- moe <- models <- pipeline, zero <- train <- tools)"
      status=1
    done < <(cd "$root" && grep -rnE "^#include \"$above/" "$folder" --include='*.h' --include='*.cpp' --include='*.cu' --include='*.cuh')
  done
}
check core tensor_parallel moe models pipeline zero train tools
check tensor_parallel moe models pipeline zero train tools
check moe models pipeline zero train tools
check models pipeline zero train tools
check pipeline zero train tools
check zero pipeline train tools
check train tools
exit $status
