#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Plug a "mydevice" device between a guest and the backend domain
# (BACKEND_DOMID, default 1) the way the Xen toolstack (libxl) plugs its
# own devices.  Run it as root in dom0, whichever domain runs the backend:
# only dom0 may create the guest's device directory.  Load the backend module
# in the backend domain first:  ./activate.sh DOMU_ID [DEVID]
set -eu

usage() {
	echo "usage: [BACKEND_DOMID=N] $0 DOMU_ID [DEVID]   (as root in dom0)" >&2
	echo "  DOMU_ID        domain id of the guest running the frontend (0: dom0 itself)" >&2
	echo "  DEVID          device id (default 0)" >&2
	echo "  BACKEND_DOMID  domain id of the backend's domain (default 1); a driver" >&2
	echo "                 domain gets a new one each time it starts: xl domid NAME" >&2
	exit 2
}

# A domain or device id: decimal digits, no leading zero (xenstore's paths
# spell ids that way, and the shell would read 010 as octal).
is_number() {
	case $1 in
	'' | *[!0-9]* | 0?*) return 1 ;;
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
# Set but empty is an error, not the default: a failed $(xl domid NAME)
# must not plug the device into another domain.
backend_domid=${BACKEND_DOMID-1}
is_number "$backend_domid" || usage
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
		echo "$0: $dir already exists: run ${BACKEND_DOMID+BACKEND_DOMID=$backend_domid }deactivate.sh $domu $devid first" >&2
		exit 1
	fi
done

# Both domains must be running: a driver domain's id changes each time it
# starts, and writing under a dead one's id would plug nothing.
for dom in "$backend_domid" "$domu"; do
	if ! xenstore-exists "/local/domain/$dom"; then
		echo "$0: no domain $dom (/local/domain/$dom is missing): is it running?" >&2
		exit 1
	fi
done

# A backend device left from an earlier plug that the backend domain has not
# torn down yet (its xenwatch thread lags behind deactivate.sh) would take the
# new directory for its own, with a stale state: give it a moment to go.  Only
# the backend domain sees its devices, so this waits only for a backend in
# dom0, where this script runs.  For a driver domain, before plugging the same
# DOMU_ID and DEVID again, wait in the driver domain until
# /sys/bus/xen-backend/devices/$type-DOMU_ID-DEVID is gone.
if [ "$backend_domid" = 0 ]; then
	stale=/sys/bus/xen-backend/devices/$type-$domu-$devid
	tries=50
	# xbgen-verify: no-stale-backend "$backend_domid"
	while [ -e "$stale" ] && [ "$tries" -gt 0 ]; do
		sleep 0.1
		tries=$((tries - 1))
	done
	if [ -e "$stale" ]; then
		echo "$0: $stale still exists: the previous device is not torn down" >&2
		exit 1
	fi
fi

# Permissions go on each directory before its children are written: the
# children inherit them (xenstore-chmod without -r leaves existing ones).
# libxl writes the same (libxl__device_generic_add).

# Frontend directory: owned by the guest, readable by the backend domain.
xenstore-write "$fe" ""
xenstore-chmod "$fe" "n$domu" "r$backend_domid"
xenstore-write "$fe/backend-id" "$backend_domid" "$fe/backend" "$be"

# The directories above the backend's (backend, backend/$type and
# backend/$type/DOMU_ID under the backend domain's home) are dom0's: the
# backend domain lists them to find its devices when its xenbus starts, the
# guest has nothing to do there.  libxl lets xenstored create them, inheriting
# the home directory's permissions (libxl__domain_make: owner dom0, read for
# the domain); writing those explicitly also serves a backend domain whose
# home was made some other way.  Existing ones are left alone.
# xbgen-verify: backend-parents
for dir in "/local/domain/$backend_domid/backend" \
	"/local/domain/$backend_domid/backend/$type" \
	"/local/domain/$backend_domid/backend/$type/$domu"; do
	if ! xenstore-exists "$dir"; then
		xenstore-write "$dir" ""
		xenstore-chmod "$dir" n0 "r$backend_domid"
	fi
done

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
