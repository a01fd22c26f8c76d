#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Unplug a "mydevice" device the way the Xen toolstack (libxl) does: take the
# backend offline, ask it to close, wait for Closed, then remove both
# directories.  Run it as root in dom0, with the BACKEND_DOMID (default 0)
# activate.sh had:  ./deactivate.sh DOMU_ID [DEVID]
# TIMEOUT (seconds, default 10) bounds the wait for Closed.  A frontend that is
# already Closed, or gone with its guest, answers nothing: then both
# directories are removed at once.  dom0 removes the backend's directory too,
# whichever domain runs the backend: with a driver domain libxl waits for its
# xl devd to remove it first, and nothing there does that for this device.
# The directories above it stay for the next plug.
set -eu

usage() {
	echo "usage: [BACKEND_DOMID=N] $0 DOMU_ID [DEVID]   (as root in dom0)" >&2
	echo "  DOMU_ID        domain id of the guest running the frontend (0: dom0 itself)" >&2
	echo "  DEVID          device id (default 0)" >&2
	echo "  BACKEND_DOMID  domain id of the backend's domain (default 0); a driver" >&2
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
backend_domid=${BACKEND_DOMID-0}
is_number "$backend_domid" || usage
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

# state_of DIR: the state key in DIR (XenbusStateClosed is 6), "gone" if none.
state_of() {
	xenstore-read "$1/state" 2>/dev/null || echo gone
}

remove_both() {
	xenstore-rm "$be" 2>/dev/null || true
	xenstore-rm "$fe" 2>/dev/null || true
}

front=$(state_of "$fe")
back=$(state_of "$be")
# xbgen-verify: skip-if-done
case $front/$back in
6/* | gone/* | */gone)
	# Nothing would answer a close request (a guest that was destroyed
	# leaves its backend directory behind): clean up without writing.
	remove_both
	echo "$type device $devid: nothing to close (frontend state $front, backend state $back); removed"
	exit 0
	;;
esac

xenstore-write "$be/online" 0
xenstore-write "$be/state" 5

# Poll in tenths of a second until both ends are Closed (or gone); once one
# of them is, the other gets one more second to follow.
ticks=$((timeout * 10))
# xbgen-verify: wait-closed
while [ "$ticks" -gt 0 ]; do
	front=$(state_of "$fe")
	back=$(state_of "$be")
	case $front/$back in
	6/6 | 6/gone | gone/6 | gone/gone) break ;;
	6/* | gone/* | */6 | */gone) [ "$ticks" -le 10 ] || ticks=10 ;;
	esac
	sleep 0.1
	ticks=$((ticks - 1))
done

remove_both

case $front/$back in
6/* | gone/* | */6 | */gone) ;;
*)
	echo "$0: backend still in state $back, frontend in state $front after ${timeout}s; removed anyway" >&2
	exit 1
	;;
esac
echo "$type device $devid: closed and removed"
