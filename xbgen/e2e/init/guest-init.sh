#!/bin/sh
# PID 1 of a PV guest: load the generated frontend (ROLE=frontend) or, in a
# driver domain, the backend (ROLE=backend); report each result to dom0 and
# run its commands (guest.sh, in the init library: see protocol.sh).
export PATH=/bin:/usr/bin
# shellcheck source=/dev/null
. /xbgen/config
# shellcheck source=guest.sh
. /xbgen/guest.sh

SYSDEV=/sys/bus/xen/devices/$DEV-$DEVID

fe_absent() { [ ! -e "/sys/bus/xen/devices/$DEV-$1" ]; }
unloaded() { ! grep -q "^$FRONT_MOD " /proc/modules; }

connects() { dmesg | grep -cF "$CONNECT_FRONT"; }

# unbind KEY: detach device DEVID from its driver (whose name goes to $drv).
unbind() {
	[ -e "$SYSDEV/driver" ] || { report "$1" "FAIL $SYSDEV is bound to no driver"; idle; }
	connects_before=$(connects)
	drv=$(basename "$(readlink "$SYSDEV/driver")")
	echo "XBGEN-GUEST $1: unbind $DEV-$DEVID from /sys/bus/xen/drivers/$drv $(now)"
	echo "$DEV-$DEVID" > "/sys/bus/xen/drivers/$drv/unbind" || { report "$1" "FAIL unbind from $drv refused"; idle; }
	[ ! -e "$SYSDEV/driver" ] || { report "$1" "FAIL still bound to $drv after unbind"; idle; }
}

# reconnected KEY: the frontend is Connected again, and connected to get there
# (dom0 checks the backend).
reconnected() {
	wait_for "$HANDSHAKE_TIMEOUT" connected || { report "$1" "FAIL frontend state '$(fe_state)' ${HANDSHAKE_TIMEOUT}s later"; idle; }
	[ "$(connects)" -gt "$connects_before" ] || { report "$1" "FAIL Connected but never printed '$CONNECT_FRONT' again"; idle; }
}

# rebind: unbind the Connected frontend and bind it again.
rebind() {
	unbind rebind
	echo "$DEV-$DEVID" > "/sys/bus/xen/drivers/$drv/bind" || { report rebind "FAIL bind to $drv refused"; idle; }
	reconnected rebind
	check rebind "driver $drv" || idle
}

# reload: unbind (a bound device holds the module), rmmod, insmod again.
reload() {
	unbind reload
	wait_for 10 rmmod "$FRONT_MOD" 2>/dev/null || { report reload "FAIL rmmod: $(rmmod "$FRONT_MOD" 2>&1)"; idle; }
	unloaded || { report reload "FAIL $FRONT_MOD still loaded after rmmod"; idle; }
	insmod "/xbgen/driver/$FRONT_MOD.ko" || { report reload "FAIL insmod exited $?"; idle; }
	reconnected reload
	check reload "rmmod and insmod $FRONT_MOD" || idle
}

# lines_ok [LINES]: each '|'-separated line of LINES (default the frontend's)
# is in the kernel log; the first missing one goes to $missing.
lines_ok() {
	old_ifs=$IFS; IFS='|'
	for msg in ${1:-$EXPECT_FRONT}; do
		[ "$(dmesg | grep -cF "$msg")" -ge 1 ] || { IFS=$old_ifs; missing=$msg; return 1; }
	done
	IFS=$old_ifs
}

# counters KEY: what the guest's kernel holds for Xen: IRQs bound to event
# channels (all, and the frontend's or in a driver domain the backend's, with
# its ring mappings), deferred grant frees.
counters() {
	if [ "$ROLE" = backend ]; then
		# a driver domain: the backend's IRQ and its mapping of the ring
		maps=$(grep -c xenbus_map_ring /proc/vmallocinfo)
		report "$1" "PASS irq_xen=$(irq_lines) irq_dev=$(irq_lines "$BACK_MOD") ring_maps=$maps $(grant_figures)"
	else
		report "$1" "PASS irq_xen=$(irq_lines) irq_dev=$(irq_lines "$DEV") $(grant_figures)"
	fi
}

# cycle KEY DEVID N C SECONDS: dom0 unplugs device DEVID and plugs it again.
# Say when it is gone here (only then may it be plugged again), wait for it to
# connect, then run the self-test (none when N is 0).
cycle() {
	wait_for "$HANDSHAKE_TIMEOUT" fe_absent "$2" || { report "$1-gone" "FAIL $DEV-$2 still there"; return; }
	report "$1-gone" PASS
	wait_for "$HANDSHAKE_TIMEOUT" connected "$2" || { report "$1" "FAIL frontend state '$(fe_state "$2")'"; return; }
	if [ "$3" = 0 ]; then check "$1" connected || idle; else selftest "$@"; fi
}

# net: the benchmark's vif (netfront), addressed for dom0's ping.
net() {
	insmod /lib/modules/xen-netfront.ko || { report net "FAIL insmod xen-netfront exited $?"; return; }
	wait_for 30 test -e /sys/class/net/eth0 || { report net "FAIL no eth0"; return; }
	if ! ip addr add "$GUEST_IP/24" dev eth0 || ! ip link set eth0 up; then
		report net "FAIL ip"
		return
	fi
	report net PASS
}

# frontend_role: load the frontend, wait for its device to connect, and check
# that the backend's directory is read-only here.
frontend_role() {
	insmod "/xbgen/driver/$FRONT_MOD.ko" || { report loaded "FAIL insmod exited $?"; idle; }
	check loaded || idle

	wait_for "$HANDSHAKE_TIMEOUT" connected || { report connected "FAIL frontend state '$(fe_state)'"; idle; }
	wait_for 5 lines_ok || { report connected "FAIL log line '$missing' missing"; idle; }
	check connected || idle

	# The backend directory must be readable but not writable for the guest: try to
	# forge the backend's state. dom0 checks xenstored's reply (EACCES) in its trace.
	BE=$(xenstore-read "device/$DEV/$DEVID/backend")
	if ! xenstore-read "$BE/state" > /dev/null; then
		report backend-write "FAIL guest cannot even read $BE/state"
		idle
	fi
	if xenstore-write "$BE/state" "$FORGED" 2>/dev/null; then
		report backend-write "FAIL guest could write $BE/state"
		idle
	fi
	check backend-write "write to $BE/state refused" || idle
}

# ------------------------------------------------------- a driver domain's part
# The backend in a PV guest of its own: dom0 plugs the device with
# BACKEND_DOMID=<this domain> and asks through data/xbgen-cmd.

be_sysdev() { echo "/sys/bus/xen-backend/devices/$DEV-$1-${2:-$DEVID}"; }
be_connected() {
	{ read -r state < "$(be_sysdev "$@")/state"; } 2>/dev/null && [ "$state" = Connected ]
}
be_absent() { [ ! -e "$(be_sysdev "$@")" ]; }

# be_up KEY FE [DEVID]: the backend device for frontend domain FE is Connected
# here and printed its lines.
be_up() {
	wait_for "$HANDSHAKE_TIMEOUT" be_connected "$2" "$3" || { report "$1" "FAIL backend device $(be_sysdev "$2" "$3") not Connected"; return; }
	wait_for 5 lines_ok "$EXPECT_BACK" || { report "$1" "FAIL log line '$missing' missing"; return; }
	check "$1" "$(be_sysdev "$2" "$3") Connected" || idle
}

# be_forge KEY FE [DEVID]: the frontend's directory is readable but not
# writable from the driver domain; dom0 checks xenstored's reply.
be_forge() {
	fe=$(xenstore-read "backend/$DEV/$2/${3:-$DEVID}/frontend") || { report "$1" "FAIL no frontend key"; return; }
	xenstore-read "$fe/state" > /dev/null || { report "$1" "FAIL cannot read $fe/state"; return; }
	if xenstore-write "$fe/state" "$FORGED" 2>/dev/null; then
		report "$1" "FAIL the driver domain could write $fe/state"
		return
	fi
	check "$1" "write to $fe/state refused" || idle
}

# be_gone KEY FE [DEVID]: the backend device has been torn down here.
be_gone() {
	wait_for "$HANDSHAKE_TIMEOUT" be_absent "$2" "$3" || { report "$1" "FAIL $(be_sysdev "$2" "$3") still registered"; return; }
	check "$1" "$(be_sysdev "$2" "$3") gone" || idle
}

backend_role() {
	insmod "/xbgen/driver/$BACK_MOD.ko" || { report loaded "FAIL insmod exited $?"; idle; }
	check loaded || idle
}

# shellcheck disable=SC2031 # serve_commands sets them, in its loop, and calls this there
# on_command ARGS...: run dom0's command $cmd, answering under $key
# (guest.sh's serve_commands).
on_command() {
	case $cmd in
	rebind) rebind ;;
	reload) reload ;;
	selftest) selftest "$key" "$@" ;;
	selftest-across) selftest_across "$key" "$@" ;;
	counters) counters "$key" ;;
	cycle) cycle "$key" "$@" ;;
	be-up) be_up "$key" "$@" ;;
	be-forge) be_forge "$key" "$@" ;;
	be-gone) be_gone "$key" "$@" ;;
	*) report "$key" "FAIL unknown command '$cmd'" ;;
	esac
}

guest_boot
[ "$RING" = 1 ] && enable_grant_debug
[ "$PINGS" -gt 0 ] && net
if [ "$ROLE" = backend ]; then backend_role; else frontend_role; fi
serve_forever
