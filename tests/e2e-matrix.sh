#!/usr/bin/env bash
# The release matrix CI leaves out for time: bullseye (Xen 4.14, Linux 5.10),
# trixie (4.20, 6.12) and sid (4.20, 7.2), each as dom0 and guest with its own
# Xen and kernel, every stage of the default run, for the default ring spec
# and a handshake-only one (bookworm, the mixed-guest boot and the driver
# domain run in the default test command); and the e2e plants too long for
# CI (a .resume that keeps the old IRQ); the largest buffers (4MiB, by
# indirect pages); and the arm64 cross-builds of every spec variant, W=1, on
# the other kernel lines Debian ships arm64 headers for (5.10, 6.12, 7.2, and
# the 16 KiB-page arm64-16k flavour of 6.12 and 7.2; CI builds 6.1's); every
# stage of the default run in an x86 PVH guest; Xen on Arm's full default run
# and the hostile frontend and backends under Xen on Arm (CI boots arm64
# shortened, and a PVH guest in the mixed fleet).
# Prints each boot's time and each arm64 line's fetch and build time.
#   bash tests/e2e-matrix.sh [pytest options, e.g. -k sid]
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
python3 -m pytest -q -m matrix tests/test_e2e_fleet.py tests/test_e2e.py tests/test_build.py \
	tests/test_e2e_platforms.py tests/test_hostile.py "$@"
echo "e2e matrix: $(($(date +%s) - start)) s"
