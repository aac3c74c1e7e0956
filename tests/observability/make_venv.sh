#!/usr/bin/env bash
# make_venv.sh VENV: a Python virtual environment with the real `tensorboard` package from PyPI, for reading
# Trident's event files back. Reused when it already imports tensorboard; a failed install fails the test
# (the round trip must not pass by skipping).
set -euo pipefail
venv="$1"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import tensorboard" 2>/dev/null; then
  echo "reusing $venv: tensorboard $("$venv/bin/python" -c 'import tensorboard; print(tensorboard.__version__)')"
  exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv" || { echo "FAIL: python3 -m venv $venv (Debian: apt-get install python3-venv)"; exit 1; }
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check tensorboard ||
  { echo "FAIL: pip install tensorboard into $venv"; rm -rf "$venv"; exit 1; }
"$venv/bin/python" -c "import tensorboard; print('installed tensorboard', tensorboard.__version__)"
