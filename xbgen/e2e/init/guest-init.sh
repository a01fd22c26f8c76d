#!/bin/sh
# PID 1 of the PV guest: load the generated frontend, report each result to dom0
# under /local/domain/<domid>/data/xbgen-<key> (and on the guest console).
export PATH=/bin:/usr/bin
# shellcheck source=/dev/null
. /xbgen/config
# shellcheck source=lib.sh
. /xbgen/lib.sh

# shellcheck disable=SC2034 # used by lib.sh
KERNEL_BAD='WARNING:|BUG:|Oops|Call Trace:|general protection fault|Kernel panic|segfault at|traps: '
SYSDEV=/sys/bus/xen/devices/$DEV-$DEVID

report() {
	xenstore-write "data/xbgen-$1" "$2" || echo "XBGEN-GUEST cannot write data/xbgen-$1"
	echo "XBGEN-GUEST $1 $2 $(now)"
}

# finish: the guest is done (dom0 destroys it); keep PID 1 alive meanwhile.
finish() { while :; do sleep 10; done; }
diagnostics() { dmesg | tail -15; }

fe_state() { cat "$SYSDEV/state" 2>/dev/null; }
connected() { [ "$(fe_state)" = Connected ]; }
unplugged() { [ ! -e "$SYSDEV" ]; }

lines_ok() {
	old_ifs=$IFS; IFS='|'
	for msg in $EXPECT_FRONT; do
		[ "$(dmesg | grep -cF "$msg")" -ge 1 ] || { IFS=$old_ifs; missing=$msg; return 1; }
	done
	IFS=$old_ifs
}

# check KEY: PASS unless the kernel complained since boot.
check() {
	DMESG_MARK=0
	if kernel_clean; then report "$1" "PASS $2"; else report "$1" "FAIL kernel: $bad"; finish; fi
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
echo "XBGEN-GUEST boot $(now)"

insmod "/xbgen/driver/$FRONT_MOD.ko" || { report loaded "FAIL insmod exited $?"; finish; }
check loaded

wait_for "$HANDSHAKE_TIMEOUT" connected || { report connected "FAIL frontend state '$(fe_state)'"; finish; }
wait_for 5 lines_ok || { report connected "FAIL log line '$missing' missing"; finish; }
check connected

# The backend directory must be readable but not writable for the guest: try to
# forge the backend's state. dom0 checks xenstored's reply (EACCES) in its trace.
BE=$(xenstore-read "device/$DEV/$DEVID/backend")
if ! xenstore-read "$BE/state" > /dev/null; then
	report backend-write "FAIL guest cannot even read $BE/state"
	finish
fi
if xenstore-write "$BE/state" "$FORGED" 2>/dev/null; then
	report backend-write "FAIL guest could write $BE/state"
	finish
fi
check backend-write "write to $BE/state refused"

wait_for 30 unplugged || { report unloaded "FAIL device still present, state '$(fe_state)'"; finish; }
wait_for 10 rmmod "$FRONT_MOD" 2>/dev/null || { report unloaded "FAIL rmmod: $(rmmod "$FRONT_MOD" 2>&1)"; finish; }
check unloaded
finish
