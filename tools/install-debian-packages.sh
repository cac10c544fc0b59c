#!/usr/bin/env bash
# Installs the Debian packages oeseg needs. `demo`: what `make demo` needs (WordNet 3.0 for the
# offline nouns and lexicon builder); `all` (the default, `make test`): also Chromium for the
# annotation page test, SLURM + accounting for the cluster test, LaTeX for the table check and a
# C++ compiler for torch.compile on the CPU; `cpu-emulation`: QEMU's user mode for
# benchmarks/cpu_vendors.py. Idempotent: does nothing when every package is
# already installed.
set -euo pipefail
set_name="${1:-all}"
packages=(
  wordnet-base wordnet-sense-index          # WordNet 3.0 database (offline lexicon builder)
)
case "$set_name" in
  demo) ;;
  all)
    packages+=(
      chromium chromium-driver                  # headless browser for the annotation page test
      munge slurm-wlm slurmdbd mariadb-server   # single-node SLURM cluster with accounting
      texlive-latex-base texlive-latex-recommended  # checks that table1.tex compiles
      g++                                       # torch.compile builds its CPU kernels with it (OPAL compile test)
    ) ;;
  cpu-emulation) packages=(qemu-user) ;;
  *) echo "usage: $0 [demo|all|cpu-emulation]" >&2; exit 2 ;;
esac
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "installing Debian packages: ${missing[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
