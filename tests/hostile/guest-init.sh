#!/bin/sh
# PID 1 of the PV guest in the hostile-frontend test: the tree's own frontend
# drives device DEVID (the healthy one); the hostile module (one attack per
# load) drives HOSTILE_DEVID.  Results go to dom0 under
# /local/domain/<domid>/data/xbgen-<key>, as in the e2e guest.
export PATH=/bin:/usr/bin
# shellcheck source=/dev/null
. /xbgen/config
# shellcheck source=/dev/null
. /xbgen/hostile.conf
# shellcheck source=../../xbgen/e2e/init/lib.sh
. /xbgen/lib.sh

# shellcheck disable=SC2034 # used by lib.sh
KERNEL_BAD='WARNING:|BUG:|Oops|Call Trace:|general protection fault|Kernel panic|segfault at|traps: '
# shellcheck disable=SC2153 # HOSTILE_MOD comes from hostile.conf
HOSTILE_KO=/xbgen/hostile/$HOSTILE_MOD.ko

report() {
	xenstore-write "data/xbgen-$1" "$2" || echo "XBGEN-GUEST cannot write data/xbgen-$1"
	echo "XBGEN-GUEST $1 $2 $(now)"
}

# finish: the guest is done (dom0 destroys it); keep PID 1 alive meanwhile.
finish() { while :; do sleep 10; done; }
# shellcheck disable=SC2317 # called by lib.sh's fail
diagnostics() { dmesg | tail -15; }

fe_state() { cat "/sys/bus/xen/devices/$DEV-$1/state" 2>/dev/null; }
connected() { [ "$(fe_state "$1")" = Connected ]; }
hostile_loaded() { grep -q "^$HOSTILE_MOD " /proc/modules; }

# selftest KEY DEVID N C SECONDS: N requests with C in flight through the
# healthy frontend's debugfs self-test, bounded by SECONDS.
selftest() {
	file=/sys/kernel/debug/$DEV/$2/selftest
	[ -e "$file" ] || { report "$1" "FAIL no $file"; return; }
	echo "$3 $4" 2>/tmp/selftest.err > "$file" &
	pid=$!
	wait_for "$5" exited "$pid" || { report "$1" "FAIL '$3 $4' still running after $5 s"; return; }
	wait "$pid" || { report "$1" "FAIL writing '$3 $4' to $file: $(cat /tmp/selftest.err)"; return; }
	line=$(cat "$file")
	if [ "$(figure requests "$line")" != "$3" ] || [ "$(figure ok "$line")" != "$3" ] || \
		[ "$(figure bad "$line")" != 0 ] || [ "$(figure timeouts "$line")" != 0 ]; then
		report "$1" "FAIL want requests=$3 ok=$3 bad=0 timeouts=0, got: $line"
		return
	fi
	report "$1" "PASS $line"
}

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

# check KEY: PASS unless the guest's kernel complained since boot.
check() {
	DMESG_MARK=0
	if kernel_clean; then report "$1" "PASS $2"; else report "$1" "FAIL kernel: $bad"; fi
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mkdir -p /sys/kernel/debug
mount -t debugfs debugfs /sys/kernel/debug
echo "XBGEN-GUEST boot $(now)"
HMARK=0

insmod "/xbgen/driver/$FRONT_MOD.ko" || { report loaded "FAIL insmod exited $?"; finish; }
report loaded PASS

# dom0 plugs the healthy device; once the tree's frontend has it, no device
# is bound automatically any more: the hostile one is bound by hand.
wait_for "$HANDSHAKE_TIMEOUT" connected "$DEVID" || { report connected "FAIL frontend state '$(fe_state "$DEVID")'"; finish; }
echo 0 > /sys/bus/xen/drivers_autoprobe || { report connected "FAIL cannot turn drivers_autoprobe off"; finish; }
report connected "PASS $DEV-$DEVID bound to $(basename "$(readlink "/sys/bus/xen/devices/$DEV-$DEVID/driver")")"

# dom0 writes "KEY COMMAND ARGS..." to data/xbgen-cmd; every KEY is new.
done_cmd=
while :; do
	line=$(xenstore-read data/xbgen-cmd 2>/dev/null)
	if [ -z "$line" ] || [ "$line" = "$done_cmd" ]; then
		usleep 100000
		continue
	fi
	done_cmd=$line
	echo "XBGEN-GUEST command $line $(now)"
	# shellcheck disable=SC2086 # split the command into its words
	set -- $line
	key=$1
	cmd=$2
	shift 2
	case $cmd in
	attack) attack "$key" "$@" ;;
	note) note "$key" ;;
	unload) unload "$key" ;;
	selftest) selftest "$key" "$@" ;;
	check) check "$key" ;;
	*) report "$key" "FAIL unknown command '$cmd'" ;;
	esac
done
