#!/bin/sh
# shellcheck disable=SC2119 # end_step takes optional words
# PID 1 of dom0 in the hostile-frontend test.  Brings up the toolstack, plugs
# a healthy device (DEVID, the tree's own frontend in a PV guest) and then,
# for each attack in ATTACKS, a hostile one (HOSTILE_DEVID) on the same
# backend.  Per attack it records what the backend said (xenbus_dev_fatal's
# error node and kernel lines), how long it took to cut the device off (dom0
# kernel clock, from the backend's connect line), the backend's state, any
# kernel complaint in dom0 and the healthy device's self-test afterwards.
# Judging is left to the harness: an attack that is not cut off is recorded,
# not fatal; only a broken harness step (no answer, a script failing) stops
# the run.
# shellcheck source=/dev/null
. /xbgen/config
export PATH="/bin:/usr/bin:$XEN_BIN"
# shellcheck source=/dev/null
. /xbgen/hostile.conf
# shellcheck source=../../xbgen/e2e/init/lib.sh
. /xbgen/lib.sh

# shellcheck disable=SC2034 # used by lib.sh
KERNEL_BAD='WARNING:|BUG:|Oops|Call Trace:|general protection fault|Kernel panic|segfault at|traps: '
DRV=/xbgen/driver
BE_MOD=/xbgen/driver/${BACK_MOD}.ko
GUEST_NAME=xbgen-guest
GUEST_LOG=/var/log/xen/console/guest-$GUEST_NAME.log
BE_DEVICES=/sys/bus/xen-backend/devices
# Every XBGEN-HOSTILE line, printed again at the end when the console is quiet.
RESULTS=/tmp/hostile.results
KEYN=0

# finish PASS|FAIL: replay the results, the guest's console, stop QEMU.
finish() {
	sleep 0.2
	if [ -f "$RESULTS" ]; then
		echo "XBGEN-HOSTILE-REPLAY $(now)"
		cat "$RESULTS"
	fi
	[ -f "$GUEST_LOG" ] && sed 's/^/[guest] /' "$GUEST_LOG"
	echo "XBGEN-RESULT $1 $(now)"
	if [ "$1" = PASS ]; then code='\020'; else code='\040'; fi
	printf '%b' "$code" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
	poweroff -f
}

# shellcheck disable=SC2317 # called by lib.sh's fail
diagnostics() {
	echo "XBGEN-DIAG begin"
	xenstore-ls -fp /local/domain/0/backend 2>&1 | head -40
	[ -n "$DOMID" ] && xenstore-ls -fp "/local/domain/$DOMID/device" 2>&1 | head -20
	ls $BE_DEVICES
	lsmod
	dmesg | tail -25
	echo "XBGEN-DIAG end"
}

# record LINE: print an XBGEN-HOSTILE line now and keep it for the replay.
record() {
	echo "$1" >> "$RESULTS"
	echo "$1"
}

boot_toolstack() {
	step hostile/toolstack
	mkdir -p /dev/pts /tmp /run/xen /run/xenstored /var/lib/xenstored /var/lib/xen \
		/var/log/xen/console /run/lock /etc/xen
	mount -t devpts devpts /dev/pts
	: > /etc/xen/xl.conf
	for m in $XEN_MODS; do
		run insmod "/lib/modules/$m.ko"
	done
	run mount -t xenfs xenfs /proc/xen
	export XENSTORED_ROOTDIR=/var/lib/xenstored
	run xenstored --pid-file /run/xen/xenstored.pid
	run xen-init-dom0
	run xenconsoled --log=guest --log-dir=/var/log/xen/console
	end_step
}

fe_path() { echo "/local/domain/$1/device/$DEV/$2"; }
be_path() { echo "/local/domain/0/backend/$DEV/$1/$2"; }
# The node xenbus_dev_fatal() writes for a backend device (relative to dom0's home).
err_path() { echo "/local/domain/0/error/backend/$DEV/$1/$2"; }
state_of() { xenstore-read "$1/state" 2>/dev/null || echo gone; }
both_connected() { [ "$(state_of "$(fe_path "$1" "$2")")" = 4 ] && [ "$(state_of "$(be_path "$1" "$2")")" = 4 ]; }
states() { echo "frontend=$(state_of "$(fe_path "$1" "$2")") backend=$(state_of "$(be_path "$1" "$2")")"; }
be_unregistered() { [ ! -e "$BE_DEVICES/$DEV-$1-$2" ]; }
fe_closed() { case $(state_of "$(fe_path "$1" "$2")") in 6 | gone) return 0 ;; esac; return 1; }
be_closing() { case $(state_of "$(be_path "$1" "$2")") in 5 | 6 | gone) return 0 ;; esac; return 1; }
error_seen() { xenstore-exists "$(err_path "$1" "$2")/error"; }

# load MODULE.ko: insmod, bounded.
load() {
	insmod "$1" > /tmp/insmod.out 2>&1 &
	pid=$!
	wait_for "$HANDSHAKE_TIMEOUT" exited "$pid" || fail "insmod $1 still blocked after ${HANDSHAKE_TIMEOUT}s"
	wait "$pid" || fail "insmod $1 exited $?: $(tail -1 /tmp/insmod.out)"
}

guest_key() { xenstore-read "/local/domain/$DOMID/data/xbgen-$1" 2>/dev/null; }
guest_has() { [ -n "$(guest_key "$1")" ]; }

# ask SECONDS WORDS...: have the guest run "KEY WORDS..." (KEY fresh) and
# leave its answer in $res ("" when none came); never fails the step.
ask() {
	ask_secs=$1; shift
	KEYN=$((KEYN + 1))
	key=k$KEYN
	run xenstore-write "/local/domain/$DOMID/data/xbgen-cmd" "$key $*"
	res=
	wait_for "$ask_secs" guest_has "$key" && res=$(guest_key "$key")
	[ -n "$res" ] || res="FAIL guest gave no answer within $ask_secs s"
}

# must SECONDS WORDS...: ask, and fail the step unless the guest answered PASS.
must() {
	ask "$@"
	case "$res" in PASS*) ;; *) fail "guest: $res" ;; esac
}

# healthy_selftest NAME: the tree's frontend runs the check-sized self-test on
# the healthy device; an XBGEN-SELFTEST line (or XBGEN-HOSTILE-SELFTEST-FAIL).
healthy_selftest() {
	bound=$((CHECK_REQUESTS / 200 + 60))
	ask $((bound + 30)) selftest "$DEVID" "$CHECK_REQUESTS" "$CHECK_DEPTH" "$bound"
	case "$res" in
	PASS*) record "XBGEN-SELFTEST $1 devid=$DEVID depth=$CHECK_DEPTH ${res#PASS }" ;;
	*) record "XBGEN-HOSTILE-SELFTEST-FAIL $1 $res" ;;
	esac
}

stage_guest() {
	step hostile/guest
	load "$BE_MOD"
	cat > /tmp/guest.cfg <<-CFG
		name = "$GUEST_NAME"
		type = "pv"
		kernel = "/xbgen/guest/vmlinuz"
		ramdisk = "/xbgen/guest/initrd.gz"
		extra = "console=hvc0 ignore_loglevel"
		memory = 192
		vcpus = 1
		cpus = "1"
		on_poweroff = "destroy"
		on_crash = "preserve"
	CFG
	run xl create /tmp/guest.cfg
	DOMID=$(xl domid $GUEST_NAME)
	echo "XBGEN-GUEST-DOMID $DOMID"
	wait_for 90 guest_has loaded || fail "guest wrote no 'loaded' result within 90 s"
	case "$(guest_key loaded)" in PASS*) ;; *) fail "guest: $(guest_key loaded)" ;; esac
	end_step

	step hostile/healthy-connect
	run sh $DRV/activate.sh "$DOMID" "$DEVID"
	wait_for "$HANDSHAKE_TIMEOUT" both_connected "$DOMID" "$DEVID" || \
		fail "healthy device not Connected after ${HANDSHAKE_TIMEOUT}s: $(states "$DOMID" "$DEVID")"
	wait_for 30 guest_has connected || fail "guest wrote no 'connected' result within 30 s"
	case "$(guest_key connected)" in PASS*) ;; *) fail "guest: $(guest_key connected)" ;; esac
	end_step "$(guest_key connected)"

	step hostile/healthy-baseline
	healthy_selftest hostile/baseline
	end_step
}

# attack MODE: plug the hostile device, let the guest attack with MODE,
# observe the backend, unplug, run the healthy self-test.
attack() {
	mode=$1
	step "hostile/$mode"
	hd=$HOSTILE_DEVID
	xenstore-rm "$(err_path "$DOMID" "$hd")" 2>/dev/null
	dmesg > /tmp/dmesg.start
	mark=$(wc -l < /tmp/dmesg.start)
	run sh $DRV/activate.sh "$DOMID" "$hd"
	must 60 attack "$mode" "$hd"
	record "XBGEN-HOSTILE-BOUND $mode ${res#PASS } $(now)"

	# The healthy device works while the hostile one is plugged (the long
	# attacks are still on; prod-overflow is over unless the check is gone).
	case $mode in prod-overflow | rewrite | event-storm) healthy_selftest "hostile/$mode/during" ;; esac

	limit=$ATTACK_WAIT
	case " $NO_CUT " in *" $mode "*) limit=$NO_CUT_WAIT ;; esac
	if wait_for "$limit" error_seen "$DOMID" "$hd"; then cut=yes; else cut=no; fi
	closed=no
	[ $cut = yes ] && wait_for 10 be_closing "$DOMID" "$hd" && closed=yes
	# The hostile frontend closes once the backend does (reconnect: after
	# asking for the device back a few times): let it finish.
	[ $closed = yes ] && wait_for 60 fe_closed "$DOMID" "$hd"
	state=$(state_of "$(be_path "$DOMID" "$hd")")
	fstate=$(state_of "$(fe_path "$DOMID" "$hd")")
	error=$(xenstore-read "$(err_path "$DOMID" "$hd")/error" 2>/dev/null)

	# Unplug it; a frontend that answers nothing makes deactivate.sh exit 1.
	sh $DRV/deactivate.sh "$DOMID" "$hd" > /tmp/deactivate.out 2>&1
	deact=$?
	sed 's/^/  | /' /tmp/deactivate.out
	wait_for 10 be_unregistered "$DOMID" "$hd" && gone=yes || gone=no

	# What the backend's kernel said about the device, and when (dom0 clock):
	# from the backend's connect line to its first line about the device.
	dmesg | tail -n +$((mark + 1)) > /tmp/dmesg.attack
	grep -F " $DEV-$DOMID-$hd: " /tmp/dmesg.attack > /tmp/dmesg.dev
	cutoff=$(awk -v conn="$CONNECT_BACK" -v dev=" $DEV-$DOMID-$hd: " '
		function stamp(line) { sub(/^\[ */, "", line); sub(/\].*/, "", line); return line }
		index($0, conn) { t0 = stamp($0) }
		index($0, dev) { if (t0 != "") printf "%.3f", stamp($0) - t0; exit }' /tmp/dmesg.attack)
	[ -n "$cutoff" ] || cutoff=-
	connects=$(grep -cF "$CONNECT_BACK" /tmp/dmesg.attack)
	sed "s/^\[ *[0-9.]*\] [^ ]* $DEV-$DOMID-$hd: //" /tmp/dmesg.dev | while read -r msg; do
		record "XBGEN-HOSTILE-MSG $mode $msg"
	done
	[ -n "$error" ] && record "XBGEN-HOSTILE-ERROR $mode $error"

	must 30 note
	record "XBGEN-HOSTILE-GUEST $mode ${res#PASS }"

	if kernel_clean; then kernel=clean; else
		kernel=bad
		echo "$bad" | while read -r line; do record "XBGEN-HOSTILE-KERNEL $mode $line"; done
	fi
	healthy_selftest "hostile/$mode/after"
	if both_connected "$DOMID" "$DEVID"; then healthy=Connected; else healthy=$(states "$DOMID" "$DEVID" | tr ' ' ,); fi
	record "XBGEN-HOSTILE-RESULT $mode cut=$cut closed=$closed seconds=$cutoff connects=$connects state=$state frontend=$fstate deactivate=$deact unregistered=$gone kernel=$kernel healthy=$healthy"
	# Not end_step: a kernel complaint is recorded for the harness, and the
	# next attack still runs.
	pass "cut=$cut seconds=$cutoff kernel=$kernel"
}

stage_unload() {
	step hostile/unload
	must 30 unload
	run sh $DRV/deactivate.sh "$DOMID" "$DEVID"
	wait_for 10 be_unregistered "$DOMID" "$DEVID" || fail "healthy backend device still registered"
	wait_for 10 rmmod "$BACK_MOD" 2>/dev/null || run rmmod "$BACK_MOD"
	must 30 check
	kernel_clean || fail "kernel reported: $(echo "$bad" | head -1)"
	end_step "guest: ${res#PASS }"
}

main() {
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs dev /dev
	echo "XBGEN-BOOT $(now)"
	boot_toolstack
	stage_guest
	for mode in $ATTACKS; do attack "$mode"; done
	stage_unload
	finish PASS
}

main
