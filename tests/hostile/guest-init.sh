#!/bin/sh
# shellcheck disable=SC2119 # library functions with optional words
# PID 1 of the PV guest in the hostile-frontend test, on the e2e init library
# (xbgen/e2e/init/guest.sh): the tree's own frontend drives device DEVID (the
# healthy one); the hostile module (one attack per load) drives
# HOSTILE_DEVID.  Results go to dom0 as in the e2e guest.
export PATH=/bin:/usr/bin
# shellcheck source=/dev/null
. /xbgen/config
# shellcheck source=/dev/null
. /xbgen/hostile.conf
# shellcheck source-path=SCRIPTDIR/../../xbgen/e2e/init source=guest.sh
. /xbgen/guest.sh

# The kernel's complaints (as dom0-init.sh).
KERNEL_BAD=$KERNEL_COMPLAINTS
# shellcheck disable=SC2153 # HOSTILE_MOD comes from hostile.conf
HOSTILE_KO=/xbgen/hostile/$HOSTILE_MOD.ko
HMARK=0

hostile_loaded() { grep -q "^$HOSTILE_MOD " /proc/modules; }

# attack KEY MODE DEVID: load the hostile module for MODE (unloading the
# previous one) and bind device DEVID to it by hand (autoprobe is off, so
# the tree's frontend never takes it).
attack() {
	if hostile_loaded && ! rmmod "$HOSTILE_MOD" 2>/tmp/rmmod.err; then
		report "$1" "FAIL rmmod $HOSTILE_MOD: $(cat /tmp/rmmod.err)"
		return
	fi
	dmesg > /tmp/dmesg.before
	HMARK=$(wc -l < /tmp/dmesg.before)
	# shellcheck disable=SC2086 # HOSTILE_ARGS is a list of parameters
	if ! insmod "$HOSTILE_KO" "mode=$2" $HOSTILE_ARGS 2>/tmp/insmod.err; then
		report "$1" "FAIL insmod $HOSTILE_KO mode=$2: $(cat /tmp/insmod.err)"
		return
	fi
	dev=/sys/bus/xen/devices/$DEV-$3
	wait_for 20 test -e "$dev" || { report "$1" "FAIL no $dev"; return; }
	if [ -e "$dev/driver" ]; then
		report "$1" "FAIL $DEV-$3 already bound to $(basename "$(readlink "$dev/driver")")"
		return
	fi
	{ echo "$DEV-$3" > "/sys/bus/xen/drivers/$HOSTILE_DRV/bind"; } 2>/tmp/bind.err || {
		report "$1" "FAIL bind to $HOSTILE_DRV: $(cat /tmp/bind.err)"
		return
	}
	report "$1" "PASS $DEV-$3 bound to $HOSTILE_DRV"
}

# note KEY: what the hostile module logged since its last load, one line.
note() {
	lines=$(dmesg | tail -n +$((HMARK + 1)) | grep -F "$HOSTILE_MOD: " | \
		sed 's/^\[[ 0-9.]*\] //; s/^[^:]*: //' | tr '\n' ';')
	report "$1" "PASS ${lines:-nothing}"
}

# unload KEY: rmmod the hostile module (no device bound to it any more).
unload() {
	if hostile_loaded && ! wait_for 10 rmmod "$HOSTILE_MOD" 2>/dev/null; then
		report "$1" "FAIL rmmod $HOSTILE_MOD: $(rmmod "$HOSTILE_MOD" 2>&1)"
		return
	fi
	report "$1" PASS
}

# shellcheck disable=SC2031 # serve_commands sets them, in its loop, and calls this there
# on_command ARGS...: run dom0's command $cmd, answering under $key.
on_command() {
	case $cmd in
	attack) attack "$key" "$@" ;;
	note) note "$key" ;;
	unload) unload "$key" ;;
	selftest) selftest "$key" "$@" ;;
	check) check "$key" ;;
	*) report "$key" "FAIL unknown command '$cmd'" ;;
	esac
}

guest_boot
mount_debugfs
insmod "/xbgen/driver/$FRONT_MOD.ko" || { report loaded "FAIL insmod exited $?"; idle; }
report loaded PASS

# dom0 plugs the healthy device; once the tree's frontend has it, no device
# is bound automatically any more: the hostile one is bound by hand.
wait_for "$HANDSHAKE_TIMEOUT" connected || { report connected "FAIL frontend state '$(fe_state)'"; idle; }
echo 0 > /sys/bus/xen/drivers_autoprobe || { report connected "FAIL cannot turn drivers_autoprobe off"; idle; }
report connected "PASS $DEV-$DEVID bound to $(basename "$(readlink "/sys/bus/xen/devices/$DEV-$DEVID/driver")")"
serve_commands
