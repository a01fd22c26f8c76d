#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Plug a "mydevice" device between the backend domain (0) and a guest,
# the way the Xen toolstack plugs its own devices.  Run it in the backend
# domain once both modules can load:  ./activate.sh DOMU_ID [DEVID]
set -eu

usage() {
	echo "usage: $0 DOMU_ID [DEVID]" >&2
	echo "  DOMU_ID  domain id of the guest running the frontend (0: dom0 itself)" >&2
	echo "  DEVID    device id (default 0)" >&2
	exit 2
}

is_number() {
	case $1 in
	'' | *[!0-9]*) return 1 ;;
	*) return 0 ;;
	esac
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	usage
fi
is_number "$1" || usage
[ $# -lt 2 ] || is_number "$2" || usage

domu=$1
devid=${2:-0}
backend_domid=0
type=mydevice
fe=/local/domain/$domu/device/$type/$devid
be=/local/domain/$backend_domid/backend/$type/$domu/$devid

for tool in xenstore-exists xenstore-write xenstore-chmod; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "$0: $tool not found: install the xenstore tools (Debian: xenstore-utils)" >&2
		exit 1
	fi
done

# Never reuse nodes left behind by an earlier device (or a destroyed guest):
# their stale state would drive the drivers.  deactivate.sh removes them.
# xbgen-verify: absent "$fe" "$be"
for dir in "$fe" "$be"; do
	if xenstore-exists "$dir"; then
		echo "$0: $dir already exists: run deactivate.sh $domu $devid first" >&2
		exit 1
	fi
done

# A backend device left from an earlier plug that this domain has not torn
# down yet (its xenwatch thread lags behind deactivate.sh) would take the new
# directory for its own, with a stale state: give it a moment to go.
stale=/sys/bus/xen-backend/devices/$type-$domu-$devid
tries=50
# xbgen-verify: no-stale-backend
while [ -e "$stale" ] && [ "$tries" -gt 0 ]; do
	sleep 0.1
	tries=$((tries - 1))
done
if [ -e "$stale" ]; then
	echo "$0: $stale still exists: the previous device is not torn down" >&2
	exit 1
fi

# Permissions go on each directory before its children are written: the
# children inherit them (xenstore-chmod without -r leaves existing ones).

# Frontend directory: owned by the guest, readable by the backend domain.
xenstore-write "$fe" ""
xenstore-chmod "$fe" "n$domu" "r$backend_domid"
xenstore-write "$fe/backend-id" "$backend_domid" "$fe/backend" "$be"

# Backend directory: owned by the backend domain, read-only for the guest,
# so the guest cannot forge the backend's state or settings.
xenstore-write "$be" ""
xenstore-chmod "$be" "n$backend_domid" "r$domu"
xenstore-write "$be/frontend-id" "$domu" "$be/frontend" "$fe" "$be/online" 1

# state = 1 (Initialising) is what makes each driver probe: write it last,
# and the backend's after the frontend's.
xenstore-write "$fe/state" 1
xenstore-write "$be/state" 1

echo "$type device $devid: frontend $fe, backend $be"
