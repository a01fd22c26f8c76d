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
unloaded() { ! grep -q "^$FRONT_MOD " /proc/modules; }

connects() { dmesg | grep -cF "$CONNECT_FRONT"; }

# unbind KEY: detach device DEVID from its driver (whose name goes to $drv).
unbind() {
	[ -e "$SYSDEV/driver" ] || { report "$1" "FAIL $SYSDEV is bound to no driver"; finish; }
	connects_before=$(connects)
	drv=$(basename "$(readlink "$SYSDEV/driver")")
	echo "XBGEN-GUEST $1: unbind $DEV-$DEVID from /sys/bus/xen/drivers/$drv $(now)"
	echo "$DEV-$DEVID" > "/sys/bus/xen/drivers/$drv/unbind" || { report "$1" "FAIL unbind from $drv refused"; finish; }
	[ ! -e "$SYSDEV/driver" ] || { report "$1" "FAIL still bound to $drv after unbind"; finish; }
}

# reconnected KEY: the frontend is Connected again, and connected to get there
# (dom0 checks the backend).
reconnected() {
	wait_for "$HANDSHAKE_TIMEOUT" connected || { report "$1" "FAIL frontend state '$(fe_state)' ${HANDSHAKE_TIMEOUT}s later"; finish; }
	[ "$(connects)" -gt "$connects_before" ] || { report "$1" "FAIL Connected but never printed '$CONNECT_FRONT' again"; finish; }
}

# rebind: unbind the Connected frontend and bind it again.
rebind() {
	unbind rebind
	echo "$DEV-$DEVID" > "/sys/bus/xen/drivers/$drv/bind" || { report rebind "FAIL bind to $drv refused"; finish; }
	reconnected rebind
	check rebind "driver $drv"
}

# reload: unbind (a bound device holds the module), rmmod, insmod again.
reload() {
	unbind reload
	wait_for 10 rmmod "$FRONT_MOD" 2>/dev/null || { report reload "FAIL rmmod: $(rmmod "$FRONT_MOD" 2>&1)"; finish; }
	unloaded || { report reload "FAIL $FRONT_MOD still loaded after rmmod"; finish; }
	insmod "/xbgen/driver/$FRONT_MOD.ko" || { report reload "FAIL insmod exited $?"; finish; }
	reconnected reload
	check reload "rmmod and insmod $FRONT_MOD"
}

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

# dom0 drives the rest (stage 3): it writes a command name to data/xbgen-cmd
# and waits for the result under data/xbgen-<command>.
done_cmd=
while :; do
	cmd=$(xenstore-read data/xbgen-cmd 2>/dev/null)
	if [ -z "$cmd" ] || [ "$cmd" = "$done_cmd" ]; then
		usleep 200000
		continue
	fi
	done_cmd=$cmd
	echo "XBGEN-GUEST command $cmd $(now)"
	case $cmd in
	rebind) rebind ;;
	reload) reload ;;
	*) report "$cmd" "FAIL unknown command '$cmd'" ;;
	esac
done
