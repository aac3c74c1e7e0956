"""The package closure behind tools/gpu_deps.sh fetch: downloads ROOTS and what they need at run time.

    python3 tools/gpu_deps_closure.py BUNDLE_DIR ROOT_PACKAGE...   (environment: BASE, FALLBACK, REFUSED,
                                                                    space-separated package names)

Downloads (apt-get download) each root and, recursively, its non -dev Depends, skipping BASE (what any Linux
image has) and REFUSED; then, until nothing is missing, the package of every shared library an unpacked ELF file
needs (found through this machine's library directories and dpkg -S). An Open MPI / PMIx / hwloc / UCX plugin
that needs a library of a REFUSED package, or one not installed here, is listed as `prune` in BUNDLE/MANIFEST,
and so is every file that needs a pruned one; `tools/gpu_deps.sh unpack` deletes them, so nothing ever tries to
load them. Anything else that needs a missing library is an error. FALLBACK packages are fetched but marked
`fallback PACKAGE SONAMES` in MANIFEST: unpack takes them only where the machine lacks those libraries (libudev,
which hwloc needs, is in most images but not all).
"""

import functools
import glob
import os
import re
import subprocess
import sys
import tempfile

ARCH = "x86_64-linux-gnu"
# Open MPI's, PMIx's, hwloc's and UCX's plugins, and the helper libraries only Open MPI's plugins link.
PLUGIN_DIRS = ("/openmpi3/", "/pmix/", "/hwloc/", "/ucx/", "/libmca_common_")


def follows(pkg, dep):
    """Whether the bundle takes DEP because PKG depends on it. No -dev package (libopenmpi-dev -> libhwloc-dev):
    Trident compiles against the headers of the packages tools/setup.sh names, and those are roots. From a -dev
    package, only shared libraries (libopenmpi-dev -> libopenmpi3), not the tools and sources it wants for
    building its users (gfortran, catch2, googletest, jquery for the docs)."""
    if dep.endswith("-dev"):
        return False
    if pkg.endswith("-dev"):
        return dep.startswith("lib") and not dep.startswith("libjs-")
    return True


def sh(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def elf_files(root):
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            if not os.path.islink(p) and os.path.isfile(p):
                with open(p, "rb") as fh:
                    if fh.read(4) == b"\x7fELF":
                        yield p


@functools.cache
def needed(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout
    return tuple(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out))


def library_index():
    """This machine's shared libraries by file name."""
    index = {}
    for top in (f"/lib/{ARCH}", f"/usr/lib/{ARCH}", "/lib64"):
        for d, _, files in os.walk(top):
            for f in files:
                index.setdefault(f, []).append(os.path.join(d, f))
    return index


class Closure:
    def __init__(self, bundle, base, fallback, refused):
        self.debs = os.path.join(bundle, "debs")
        self.bundle, self.base, self.fallback, self.refused = bundle, base, fallback, refused
        self.why = {}  # package -> why it is in the bundle
        self.prune = {}  # file relative to / -> the libraries it needs that the bundle leaves out
        self.stage = tempfile.mkdtemp(prefix="gpu_deps_stage.")
        self.system_libs = library_index()

    @functools.cache
    def owners(self, soname):
        """The installed packages holding a file of that name in the library directories (dpkg -S also
        answers for the link's target: /lib and /usr/lib are one folder on a merged-/usr system)."""
        out = set()
        for path in self.system_libs.get(soname, []):
            for p in {path, os.path.realpath(path), path.replace("/usr/lib/", "/lib/", 1)}:
                r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
                for line in r.stdout.splitlines():
                    if ": " in line:
                        out |= {q.strip().split(":")[0] for q in line.split(": ")[0].split(",")}
        return sorted(out)

    def add(self, wanted):
        """Adds {package: reason} and, recursively, their non -dev dependencies; downloads and unpacks them. One
        apt call per level and one download for all: each apt call takes seconds."""
        added = []
        frontier = {p: r for p, r in wanted.items() if p not in self.why and p not in self.base | self.refused}
        while frontier:
            self.why.update(frontier)
            added += list(frontier)
            deps = self.depends(list(frontier))
            frontier = {}
            for pkg, ds in deps.items():
                for dep in ds:
                    if dep in self.why or dep in self.base | self.refused or not follows(pkg, dep):
                        continue
                    frontier.setdefault(dep, f"dependency of {pkg}")
        if added:
            subprocess.run(["apt-get", "download", "-q", *added], check=True, cwd=self.debs, capture_output=True)
            for pkg in added:
                deb = sorted(glob.glob(os.path.join(self.debs, f"{pkg}_*.deb")))[-1]
                subprocess.run(["dpkg-deb", "-x", deb, self.stage], check=True)
        return bool(added)

    def depends(self, pkgs):
        """{package: the first alternative of each Depends / Pre-Depends of its candidate version}."""
        out = {}
        text = sh("apt-cache", "show", "--no-all-versions", *pkgs)
        for stanza in text.split("\n\n"):
            name = re.search(r"^Package: (\S+)", stanza, re.M)
            if not name:
                continue
            deps = out.setdefault(name.group(1), [])
            for line in stanza.splitlines():
                if line.startswith(("Depends:", "Pre-Depends:")):
                    for group in line.split(":", 1)[1].split(","):
                        deps.append(group.split("|")[0].strip().split(" ")[0].split(":")[0])
        for pkg in pkgs:
            if pkg not in out:
                raise SystemExit(f"gpu_deps: no Debian package {pkg} ({self.why[pkg]})")
        return out

    def resolve_libraries(self):
        while True:
            provided = {f for _, _, fs in os.walk(self.stage) for f in fs}
            wanted = {}
            for elf in elf_files(self.stage):
                rel = os.path.relpath(elf, self.stage)
                for so in needed(elf):
                    if so in provided or so.startswith("ld-linux"):
                        continue
                    pkgs = [p for p in self.owners(so) if not p.endswith("-dev")]
                    if any(p in self.base for p in pkgs):
                        continue
                    missing = not pkgs or pkgs[0] in self.refused
                    if missing and any(d in "/" + rel for d in PLUGIN_DIRS):
                        self.prune.setdefault(rel, set()).add(so)
                    elif not pkgs:
                        raise SystemExit(f"gpu_deps: no installed package provides {so} (needed by /{rel})")
                    elif pkgs[0] in self.refused:
                        raise SystemExit(f"gpu_deps: /{rel} needs {so} of {pkgs[0]}, which REFUSED leaves out")
                    else:
                        wanted.setdefault(pkgs[0], f"{so} for /{rel}")
            if not self.add(wanted):
                return

    def spread_prune(self):
        """Every file that needs a pruned library goes too (mca_pml_ucx.so needs libmca_common_ucx.so)."""
        holders = {}
        for d, _, fs in os.walk(self.stage):
            for f in fs:
                holders.setdefault(f, []).append(os.path.relpath(os.path.join(d, f), self.stage))
        while True:
            gone = {os.path.basename(p) for p in self.prune}
            more = False
            for elf in elf_files(self.stage):
                rel = os.path.relpath(elf, self.stage)
                lost = {so for so in needed(elf) if so in gone and all(h in self.prune for h in holders[so])}
                if lost and rel not in self.prune:
                    self.prune[rel] = lost
                    more = True
            if not more:
                return

    @staticmethod
    def sonames(deb):
        """The shared libraries a package holds, by their run-time names (libudev.so.1)."""
        names = set()
        for line in sh("dpkg-deb", "-c", deb).splitlines():
            path = line.split()[5] if len(line.split()) > 5 else ""
            if re.search(r"/lib[^/]*\.so\.[0-9]+$", path):
                names.add(os.path.basename(path))
        return names

    def write_manifest(self):
        with open(os.path.join(self.bundle, "MANIFEST"), "w") as m:
            m.write("# tools/gpu_deps.sh fetch. `deb PACKAGE VERSION BYTES WHY`; `fallback PACKAGE SONAMES`: unpacked "
                    "only where the machine lacks them; `prune FILE needs LIBS`: unpack deletes FILE\n")
            for deb in sorted(os.listdir(self.debs)):
                pkg, ver = deb.split("_")[:2]
                m.write(f"deb {pkg} {ver} {os.path.getsize(os.path.join(self.debs, deb))} "
                        f"{self.why.get(pkg, '?')}\n")
            for pkg in sorted(self.fallback & set(self.why)):
                deb = glob.glob(os.path.join(self.debs, f"{pkg}_*.deb"))[0]
                m.write(f"fallback {pkg} {' '.join(sorted(self.sonames(deb)))}\n")
            for rel in sorted(self.prune):
                m.write(f"prune /{rel} needs {' '.join(sorted(self.prune[rel]))}\n")


def main():
    bundle, roots = sys.argv[1], sys.argv[2:]
    closure = Closure(bundle, set(os.environ["BASE"].split()), set(os.environ["FALLBACK"].split()),
                      set(os.environ["REFUSED"].split()))
    try:
        closure.add({pkg: "tools/setup.sh" for pkg in roots})
        closure.resolve_libraries()
        closure.spread_prune()
        closure.write_manifest()
    finally:
        subprocess.run(["rm", "-rf", closure.stage])


if __name__ == "__main__":
    main()
