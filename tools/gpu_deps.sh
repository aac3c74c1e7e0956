#!/usr/bin/env bash
# Trident's Debian build dependencies as a bundle of .deb files for a machine that has a compiler, CMake and CUDA
# but none of those packages and no network (the lent GPU machines: tools/gpu_check.sh unpacks the bundle there).
#
#   tools/gpu_deps.sh [fetch]            here (Debian 12, mirrors reachable): download the packages tools/setup.sh
#                                        installs, less the build tools, plus the shared libraries they need at run
#                                        time, into gpu_deps/debs/, and write gpu_deps/MANIFEST
#   tools/gpu_deps.sh unpack PREFIX      there: `dpkg -x` every .deb into PREFIX (never /), drop the Open MPI and
#                                        PMIx plugins whose libraries were left out, repoint absolute links, and
#                                        write PREFIX/env.sh, which points PATH, CMake, pkg-config, the compiler,
#                                        the loader and Open MPI at PREFIX (`source PREFIX/env.sh`)
#   tools/gpu_deps.sh prove [BUILD_DIR]  here, as root: the bundle alone builds and tests Trident. In a private
#                                        mount namespace every file the bundled packages installed on this machine
#                                        (and ssh) is hidden by an overlay, the bundle is unpacked into an empty
#                                        prefix, CMake configures with CUDA on and off, and the CPU build
#                                        (BUILD_DIR, default build-deps-proof; TRIDENT_PROVE_JOBS, default nproc)
#                                        runs the unit tests and multi-rank tests through the bundled mpirun
#
# Which packages: the dependencies listed in tools/setup.sh (less TOOLS_THERE, which the GPU machine has), the
# packages they depend on except -dev ones and what every Linux image has (BASE), and then, until nothing is
# missing, the package of every shared library an unpacked ELF file needs. REFUSED are left out although Open MPI
# depends on them: network transports for InfiniBand, Omni-Path, libfabric and UCX, and hwloc's GPU plugins, which
# a one-node run never uses. The plugins that need them are listed in MANIFEST as `prune` lines and deleted by
# `unpack`, so Open MPI never tries to load them. FALLBACK packages (libudev, zlib) are unpacked only where the
# machine lacks their libraries.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUNDLE="${TRIDENT_GPU_DEPS_DIR:-$ROOT/gpu_deps}"
ARCH=x86_64-linux-gnu

TOOLS_THERE=(build-essential cmake ninja-build ccache python3 python3-venv fortunes iproute2)
BASE=(libc6 libgcc-s1 libstdc++6 libgomp1 libzstd1 liblzma5 libbz2-1.0 libcrypt1 libssl3
      libselinux1 libpcre2-8-0 libmd0 libbsd0 libtinfo6 libaudit1 libcap-ng0 libcap2 debconf dpkg perl-base
      adduser passwd tar debianutils libdb5.3 libgcc-12-dev gcc-12-base libpam0g)
FALLBACK=(libudev1 zlib1g)
REFUSED=(libucx0 libfabric1 libibverbs1 ibverbs-providers librdmacm1 libpsm2-2 libpsm-infinipath1 libnl-3-200
         libnl-route-3-200 libhwloc-plugins libxnvctrl0 libx11-6 libxext6 libpciaccess0 ocl-icd-libopencl1
         libopencl1 openssh-client ssh-client)

die() {
  echo "gpu_deps: $*" >&2
  exit 1
}

# The packages tools/setup.sh installs, less the tools the GPU machine has.
setup_packages() {
  sed -n '/^PACKAGES=(/,/^)/p' tools/setup.sh | sed -e 's/#.*//' -e 's/PACKAGES=(//' -e 's/)//' | tr -s ' \n' '\n' |
    grep -v '^$' | grep -vxF -f <(printf '%s\n' "${TOOLS_THERE[@]}")
}

fetch() {
  { command -v apt-get && command -v dpkg-deb; } >/dev/null || die "fetch needs a Debian machine (apt-get, dpkg-deb)"
  command -v readelf >/dev/null || die "fetch needs readelf (binutils)"
  mkdir -p "$BUNDLE/debs"
  rm -f "$BUNDLE"/debs/*.deb
  local roots
  mapfile -t roots < <(setup_packages)
  echo "gpu_deps: roots from tools/setup.sh: ${roots[*]}"
  BASE="${BASE[*]}" FALLBACK="${FALLBACK[*]}" REFUSED="${REFUSED[*]}" python3 tools/gpu_deps_closure.py "$BUNDLE" "${roots[@]}"
  local n total
  n=$(grep -c '^deb ' "$BUNDLE/MANIFEST")
  total=$(du -cb "$BUNDLE"/debs/*.deb | tail -1 | cut -f1)
  echo "gpu_deps: $n packages, $((total / 1024)) KiB in $BUNDLE/debs ($(grep -c '^prune ' "$BUNDLE/MANIFEST") plugins pruned)"
  echo "gpu_deps: manifest $BUNDLE/MANIFEST"
}

# unpack PREFIX: the bundle into PREFIX, and PREFIX/env.sh.
unpack() {
  local prefix=${1:-}
  if [ -z "$prefix" ] || [ "$prefix" = / ]; then die "unpack needs a PREFIX other than /"; fi
  [ -f "$BUNDLE/MANIFEST" ] || die "no bundle in $BUNDLE: run tools/gpu_deps.sh fetch on a Debian 12 machine first"
  mkdir -p "$prefix" && prefix=$(cd "$prefix" && pwd)
  local deb n=0 skip pkg so sonames
  # Fallback packages only where the machine lacks their libraries.
  skip=" "
  # The loader's cache read once: `ldconfig -p | grep -q` under pipefail fails with SIGPIPE when grep stops early.
  local cache
  cache=$(ldconfig -p 2>/dev/null || true)
  while read -r _ pkg sonames; do
    for so in $sonames; do
      grep -qE "^\s*${so//./\\.} " <<<"$cache" || continue 2
    done
    skip+="$pkg "
  done < <(grep '^fallback ' "$BUNDLE/MANIFEST")
  for deb in "$BUNDLE"/debs/*.deb; do
    pkg=$(basename "$deb")
    [[ "$skip" == *" ${pkg%%_*} "* ]] && continue
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$deb" "$prefix"
    else # no dpkg: a .deb is an ar archive holding data.tar.*
      (cd "$(mktemp -d)" && ar x "$deb" && tar -xf data.tar.* -C "$prefix")
    fi || die "could not unpack $deb"
    n=$((n + 1))
  done
  # Plugins whose libraries were left out, so that Open MPI never tries (and warns about failing) to load them.
  local file
  while read -r _ file _; do rm -f "$prefix$file"; done < <(grep '^prune ' "$BUNDLE/MANIFEST")
  # Absolute links point into PREFIX; links left dangling by the pruning go.
  local link target
  while IFS= read -r link; do
    target=$(readlink "$link")
    [[ "$target" == /* ]] && ln -sfn "$prefix$target" "$link"
  done < <(find "$prefix" -type l)
  find "$prefix" -xtype l -delete
  # The commands Debian's alternatives would name (mpirun -> mpirun.openmpi), in PREFIX/bin.
  mkdir -p "$prefix/bin"
  for file in "$prefix"/usr/bin/*.openmpi; do
    ln -sfn "$file" "$prefix/bin/$(basename "$file" .openmpi)"
  done
  local lib="$prefix/usr/lib/$ARCH"
  cat >"$prefix/env.sh" <<ENV
# Written by tools/gpu_deps.sh unpack: Trident's bundled dependencies in $prefix. Source it.
export TRIDENT_DEPS_PREFIX="$prefix"
export PATH="$prefix/bin:$prefix/usr/bin:\$PATH"
export LD_LIBRARY_PATH="$lib:$lib/openmpi/lib:$lib/openblas-openmp\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
# CMake's find_package / find_library / find_path (and pkg_check_modules, through PKG_CONFIG_USE_CMAKE_PREFIX_PATH)
export CMAKE_PREFIX_PATH="$prefix/usr\${CMAKE_PREFIX_PATH:+:\$CMAKE_PREFIX_PATH}"
export PKG_CONFIG_LIBDIR="$lib/pkgconfig:$prefix/usr/share/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$prefix"
# The compiler and linker, for headers and libraries a .pc file or CMake config names by their /usr path
export CPATH="$prefix/usr/include\${CPATH:+:\$CPATH}"
export LIBRARY_PATH="$lib\${LIBRARY_PATH:+:\$LIBRARY_PATH}"
# Open MPI and PMIx were built for /usr: DESTDIR moves every directory they know (plugins, help files, the
# wrapper compilers' data, /etc/openmpi's defaults) under the prefix.
export OPAL_DESTDIR="$prefix" PMIX_DESTDIR="$prefix"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# mpirun refuses to start, even on one node, when its remote agent (ssh or rsh) is missing; a one-node run never
# calls it, so any program that exists will do.
command -v ssh >/dev/null || command -v rsh >/dev/null || export OMPI_MCA_plm_rsh_agent=false
ENV
  local has=""
  [ "$skip" != " " ] && has="; the machine has its own${skip% }"
  echo "gpu_deps: $n packages unpacked into $prefix ($(grep -c '^prune ' "$BUNDLE/MANIFEST") plugins pruned$has); source $prefix/env.sh"
}

# The files the bundled packages (and ssh, which the GPU machine lacks) installed on this machine, and the links
# (Debian's alternatives: /usr/bin/mpirun -> /etc/alternatives/mpirun -> ...) that lead to them. Not the FALLBACK
# packages' (libudev, zlib): most machines have those, and unpack leaves them out where the machine has them.
hidden_files() {
  local pkgs
  mapfile -t pkgs < <(awk '/^deb /{print $2}' "$BUNDLE/MANIFEST" | grep -vxF -f <(awk '/^fallback /{print $2}' "$BUNDLE/MANIFEST"))
  pkgs+=(openssh-client)
  {
    for p in "${pkgs[@]}"; do
      dpkg -L "$p" 2>/dev/null || true
    done | while IFS= read -r f; do
      [[ "$f" == /usr/* || "$f" == /etc/* ]] && { [ -L "$f" ] || [ -f "$f" ]; } && echo "$f"
    done
  } | sort -u >"$1.files"
  find /usr/bin /usr/lib/$ARCH /usr/include/$ARCH -maxdepth 1 -type l -lname '/etc/alternatives/*' | while read -r l; do
    grep -qxF "$(readlink -f "$l")" "$1.files" && echo "$l"
  done | sort -u - "$1.files" >"$1"
  rm -f "$1.files"
}

# prove [BUILD_DIR]: see the top of this file. Runs itself again inside `unshare -m` as `prove-inside`.
prove() {
  [ "$(id -u)" -eq 0 ] || die "prove needs root (a mount namespace and an overlay over /usr)"
  [ -f "$BUNDLE/MANIFEST" ] || fetch
  local work=/tmp/trident_gpu_deps_proof
  rm -rf "$work" && mkdir -p "$work"/{upper/usr,upper/etc,work/usr,work/etc,empty}
  hidden_files "$work/hidden.txt"
  local f
  while IFS= read -r f; do
    mkdir -p "$work/upper$(dirname "$f")"
    mknod "$work/upper$f" c 0 0 # an overlay whiteout: the file does not exist in the merged view
  done <"$work/hidden.txt"
  echo "prove: hiding $(wc -l <"$work/hidden.txt") files of $(grep -c '^deb ' "$BUNDLE/MANIFEST") bundled packages" \
    "(and openssh-client) behind an overlay on /usr and /etc, e.g.:"
  grep -E 'mpirun$|/protoc$|libprotobuf.so$|spdlog/spdlog.h$|cblas.h$|nlohmann/json.hpp$|gtest/gtest.h$|libxxhash.so$|bin/ssh$|pkg-config$' \
    "$work/hidden.txt" | sed 's/^/  /'
  unshare -m --propagation private bash "$ROOT/tools/gpu_deps.sh" prove-inside "$work" "${1:-build-deps-proof}"
}

prove_inside() {
  local work=$1 build=$2 t0 rc=0
  for d in usr etc; do
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$work/upper/$d,workdir=$work/work/$d" "/$d" ||
      die "could not mount an overlay over /$d"
  done
  local missing=0 f
  for f in /usr/bin/mpirun /usr/bin/protoc /usr/include/spdlog/spdlog.h /usr/lib/$ARCH/libprotobuf.so \
    /usr/include/$ARCH/openblas-openmp/cblas.h /usr/bin/ssh /usr/bin/pkg-config; do
    [ -e "$f" ] && echo "prove: $f is still visible" && missing=1
  done
  [ $missing -eq 0 ] || die "hiding failed"
  echo "prove: hidden; e.g. 'command -v mpirun protoc pkg-config ssh' finds: '$(command -v mpirun protoc pkg-config ssh | paste -sd' ')'"
  t0=$SECONDS
  unpack "$work/prefix"
  # shellcheck disable=SC1091
  source "$work/prefix/env.sh"
  echo "prove: now mpirun = $(command -v mpirun), protoc = $(command -v protoc) ($(protoc --version)), pkg-config = $(command -v pkg-config)"
  # TRIDENT_PROVE_KEEP_BUILD=1 keeps an earlier proof's build (the prefix path and the unpacked files' times are
  # the same, so its objects stay valid): for a rerun after someone else's half-written file broke the build.
  [ "${TRIDENT_PROVE_KEEP_BUILD:-0}" = 1 ] || rm -rf "$build" "$build-cuda"
  # CUDA on: configure only (no GPU here to run it; this shows CMake finds everything with the CUDA backend).
  if command -v nvcc >/dev/null; then
    if cmake -S . -B "$build-cuda" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTRIDENT_CUDA=ON -DCCACHE=CCACHE-NOTFOUND \
      >"$work/configure-cuda.log" 2>&1; then
      echo "prove: configure with CUDA ON: ok"
      grep -E 'Trident:' "$work/configure-cuda.log" | sed 's/^/  /'
    else
      echo "prove: configure with CUDA ON FAILED ($work/configure-cuda.log):"
      tail -20 "$work/configure-cuda.log"
      rc=1
    fi
  fi
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTRIDENT_CUDA=OFF -DCCACHE=CCACHE-NOTFOUND \
    >"$work/configure.log" 2>&1 || { tail -30 "$work/configure.log"; die "configure (CUDA OFF) failed"; }
  echo "prove: configure with CUDA OFF: ok"
  grep -E 'Trident:|Found (Protobuf|GTest|PkgConfig|OpenMP_CXX)|Checking for module' "$work/configure.log" | sed 's/^/  /'
  local targets=(trident_unit_tests trident_multirank_tests trident_golden_step_tests trident_hang_main trident)
  local jobs=${TRIDENT_PROVE_JOBS:-$(nproc)}
  t0=$SECONDS
  cmake --build "$build" -j "$jobs" --target "${targets[@]}" >"$work/build.log" 2>&1 ||
    { grep -m5 -B2 -A5 'error' "$work/build.log"; die "build failed ($work/build.log)"; }
  echo "prove: built ${targets[*]} in $((SECONDS - t0)) s with -j $jobs"
  # What the build read and links from outside the prefix: only the C/C++ runtime and compiler's own headers.
  echo "prove: headers the build read from /usr, by package:"
  ninja -C "$build" -t deps | grep -E '^ +/usr/' | sort -u | xargs -r dpkg -S 2>/dev/null | cut -d: -f1 | sort | uniq -c |
    sed 's/^/  /'
  echo "prove: libraries trident loads:"
  ldd "$build/trident" | awk '{print $3}' | grep / | sed -e "s|^$work/prefix|  PREFIX|" -e 's|^/|  /|'
  ldd "$build/trident" | grep -q 'not found' && { echo "prove: trident has unresolved libraries"; rc=1; }
  t0=$SECONDS
  (cd "$build" && OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 ctest -L unit -j "$(nproc)" --timeout 300 \
    >"$work/ctest-unit.log" 2>&1) || rc=1
  echo "prove: ctest -L unit: $(grep -E 'tests passed' "$work/ctest-unit.log") ($((SECONDS - t0)) s)"
  grep -E '^\s+[0-9]+ - .*(Failed|Timeout|Exception)' "$work/ctest-unit.log" | head -10 || true
  t0=$SECONDS
  (cd "$build" && ctest -R '^(multirank\.np(2|3|4)|golden\.step\.np(1|2)|multirank\.watchdog_names_the_hang)$' \
    --timeout 300 --output-on-failure >"$work/ctest-multirank.log" 2>&1) || rc=1
  echo "prove: multi-rank through the bundled mpirun: $(grep -E 'tests passed' "$work/ctest-multirank.log") ($((SECONDS - t0)) s)"
  grep -E '^ *[0-9]+/[0-9]+ Test' "$work/ctest-multirank.log" | sed 's/^/  /' || true
  echo "prove: logs in $work; $( [ $rc -eq 0 ] && echo PASSED || echo FAILED)"
  return $rc
}

case "${1:-fetch}" in
  fetch) fetch ;;
  unpack) unpack "${2:-}" ;;
  prove) prove "${2:-}" ;;
  prove-inside) prove_inside "$2" "$3" ;;
  *) die "unknown command $1 (fetch, unpack PREFIX, prove [BUILD_DIR])" ;;
esac
