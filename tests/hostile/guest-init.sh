#!/bin/sh
# shellcheck disable=SC2119 # library functions with optional words
# PID 1 of the PV guest in the hostile-frontend test, on the e2e init library
# (xbgen/e2e/init/guest.sh): the tree's own frontend drives device DEVID (the
# healthy one); the hostile module (one attack per load) drives
# HOSTILE_DEVID.  Results go to dom0 as in the e2e guest.  The same image
# boots the second guest of issue 15's stages (dom0's contract.sh), which
# only loads the frontend and serves dom0's commands.
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

# mark KEY: what the kernel logs from now on is what front_broke reads.
mark() {
	DMESG_MARK=$(dmesg | wc -l)
	report "$1" PASS
}

# front_broke KEY: what the tree's frontend said of a backend that broke the
# ring protocol since the mark, and whether the kernel complained.
front_broke() {
	lines=$(dmesg | tail -n +$((DMESG_MARK + 1)) | grep -F "broke the ring protocol" | \
		sed 's/^\[[ 0-9.]*\] //' | tr '\n' ';')
	if kernel_clean > /dev/null; then kernel=clean; else kernel=bad; fi
	report "$1" "PASS kernel=$kernel said=${lines:--}"
}

# ------------------------------------------- issue 15's stages (contract.sh)

# autoprobe KEY 0|1: whether new devices bind to their driver on their own.
autoprobe() {
	if echo "$2" > /sys/bus/xen/drivers_autoprobe; then report "$1" PASS
	else report "$1" "FAIL cannot write $2 to drivers_autoprobe"
	fi
}

# st_start KEY DEVID N C [S]: write "N C" (or "N C S": buffers of S bytes)
# to device DEVID's self-test in the background (st_wait collects it); its
# exit status, end time (guest uptime, hundredths) and the figures read back
# at once (an unplug removes the file soon after) go to /tmp/st.end, its
# error message to /tmp/st.err.
st_start() {
	ST_FILE=/sys/kernel/debug/$DEV/$2/selftest
	wait_for 10 test -e "$ST_FILE" || { report "$1" "FAIL no $ST_FILE"; return 1; }
	rm -f /tmp/st.end /tmp/st.err
	ST_T0=$(centis)
	{
		echo "$3 $4${5:+ $5}" > "$ST_FILE"
		# shellcheck disable=SC2320 # the status of that echo is the write's
		st_rc=$?
		st_t1=$(centis)
		st_line=
		{ read -r st_line < "$ST_FILE"; } 2>/dev/null
		echo "$st_rc $st_t1 $st_line" > /tmp/st.end
	} 2> /tmp/st.err &
	ST_PID=$!
}

# st_wait KEY SECONDS: wait up to SECONDS for the self-test's write to
# return; report its status (rc), error (err: the strerror text, spaces as
# _, - for none), duration (secs, guest clock) and the figures it read back.
st_wait() {
	if ! wait_long "$2" test -e /tmp/st.end; then
		report "$1" "FAIL the self-test's write was still running after $2 s"
		return
	fi
	wait "$ST_PID"
	read -r rc t1 line < /tmp/st.end
	err=$(sed -n 's/.*write error: //p' /tmp/st.err | head -1 | tr ' ' _)
	d=$((t1 - ST_T0))
	report "$1" "PASS rc=$rc err=${err:--} secs=$((d / 100)).$((d / 10 % 10))$((d % 10)) $line"
}

# front_unload KEY: rmmod the tree's frontend, bounded (a call left in
# flight would hold its device's teardown for ever).
front_unload() {
	rmmod "$FRONT_MOD" > /tmp/rmmod.out 2>&1 &
	pid=$!
	if ! wait_for 30 exited "$pid"; then
		report "$1" "FAIL rmmod $FRONT_MOD still blocked after 30 s"
		return
	fi
	if wait "$pid"; then report "$1" PASS
	else report "$1" "FAIL rmmod $FRONT_MOD: $(cat /tmp/rmmod.out)"
	fi
}

# front_swap KEY DIR: the tree's frontend out, DIR's build of it in (no
# device is plugged meanwhile).
front_swap() {
	if ! rmmod "$FRONT_MOD" > /tmp/rmmod.out 2>&1; then
		report "$1" "FAIL rmmod $FRONT_MOD: $(cat /tmp/rmmod.out)"
		return
	fi
	if insmod "$2/$FRONT_MOD.ko" > /tmp/insmod.out 2>&1; then report "$1" PASS
	else report "$1" "FAIL insmod $2/$FRONT_MOD.ko: $(cat /tmp/insmod.out)"
	fi
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
	autoprobe) autoprobe "$key" "$@" ;;
	st-start) st_start "$key" "$@" && report "$key" "PASS started" ;;
	st-wait) st_wait "$key" "$@" ;;
	st-try) st_start "$key" "$1" "$2" "$3" "$5" && st_wait "$key" "$4" ;;
	mark) mark "$key" ;;
	front-broke) front_broke "$key" ;;
	front-unload) front_unload "$key" ;;
	front-swap) front_swap "$key" "$@" ;;
	counters) report "$key" "PASS irq_dev=$(irq_lines "$DEV")" ;;
	*) report "$key" "FAIL unknown command '$cmd'" ;;
	esac
}

guest_boot
mount_debugfs
insmod "/xbgen/driver/$FRONT_MOD.ko" || { report loaded "FAIL insmod exited $?"; idle; }
report loaded PASS

# The second guest of issue 15's stages (GUEST_B) only serves dom0's
# commands: its frontend takes the devices dom0 plugs for it.
# shellcheck disable=SC2153 # GUEST_B comes from hostile.conf
if [ "$(xenstore-read name 2>/dev/null)" = "$GUEST_B" ]; then
	serve_commands
fi

# dom0 plugs the healthy device; once the tree's frontend has it, no device
# is bound automatically any more: the hostile one is bound by hand.
wait_for "$HANDSHAKE_TIMEOUT" connected || { report connected "FAIL frontend state '$(fe_state)'"; idle; }
echo 0 > /sys/bus/xen/drivers_autoprobe || { report connected "FAIL cannot turn drivers_autoprobe off"; idle; }
report connected "PASS $DEV-$DEVID bound to $(basename "$(readlink "/sys/bus/xen/devices/$DEV-$DEVID/driver")")"
serve_commands
