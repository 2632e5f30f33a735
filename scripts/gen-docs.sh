#!/usr/bin/env bash
# Regenerates the component reference inside docs/configuration.md from the code
# (`telegate docs`). Needs a built binary (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-build/release/src/main/telegate}"
python3 - "$bin" <<'PY'
import subprocess, sys
gen = subprocess.run([sys.argv[1], "docs"], capture_output=True, text=True, check=True).stdout
path = "docs/configuration.md"
doc = open(path).read()
begin, end = "<!-- BEGIN GENERATED COMPONENT REFERENCE -->", "<!-- END GENERATED COMPONENT REFERENCE -->"
b, e = doc.index(begin) + len(begin) + 1, doc.index(end)
open(path, "w").write(doc[:b] + gen + doc[e:])
PY
