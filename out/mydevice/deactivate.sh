#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Unplug a "mydevice" device the way the Xen toolstack does: take the
# backend offline, ask it to close, wait for Closed, then remove both
# directories.  ./deactivate.sh DOMU_ID [DEVID]
# TIMEOUT (seconds, default 10) bounds the wait for Closed.
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

for tool in xenstore-read xenstore-write xenstore-rm; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "$0: $tool not found: install the xenstore tools (Debian: xenstore-utils)" >&2
		exit 1
	fi
done

timeout=${TIMEOUT:-10}
is_number "$timeout" || usage

xenstore-write "$be/online" 0
xenstore-write "$be/state" 5

# XenbusStateClosed is 6; poll in tenths of a second.
ticks=$((timeout * 10))
state=
while [ "$ticks" -gt 0 ]; do
	state=$(xenstore-read "$be/state" 2>/dev/null || echo gone)
	case $state in 6 | gone) break ;; esac
	sleep 0.1
	ticks=$((ticks - 1))
done

xenstore-rm "$be" 2>/dev/null || true
xenstore-rm "$fe" 2>/dev/null || true

case $state in
6 | gone) ;;
*)
	echo "$0: backend still in state ${state:-?} after ${timeout}s; removed anyway" >&2
	exit 1
	;;
esac
echo "$type device $devid: closed and removed"
