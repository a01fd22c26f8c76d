#!/bin/sh
# shellcheck disable=SC2119 # library functions with optional words
# PID 1 of dom0 in the hostile-frontend test, on the e2e init library
# (xbgen/e2e/init, see protocol.sh there).  Brings up the toolstack, plugs a
# healthy device (DEVID, the tree's own frontend in a PV guest) and then, for
# each attack in ATTACKS, a hostile one (HOSTILE_DEVID) on the same backend.
# Per attack it records what the backend said (xenbus_dev_fatal's error node
# and kernel lines), how long it took to cut the device off (dom0 kernel
# clock, from the backend's connect line), the backend's state, any kernel
# complaint in dom0 and the healthy device's self-test afterwards.  Judging
# is left to the harness: an attack that is not cut off is recorded, not
# fatal; only a broken harness step (no answer, a script failing) stops the
# run.
# shellcheck source=/dev/null
. /xbgen/config
export PATH="/bin:/usr/bin:$XEN_BIN"
# shellcheck source=/dev/null
. /xbgen/hostile.conf
# shellcheck source-path=SCRIPTDIR/../../xbgen/e2e/init source=dom0.sh
. /xbgen/dom0.sh
# shellcheck source=contract.sh
[ "$CONTRACT" = 1 ] && . /xbgen/contract.sh

# The kernel's complaints; what becomes of the attacked device's grants is
# the attack's business.
KERNEL_BAD=$KERNEL_COMPLAINTS
# Every XBGEN-HOSTILE line (record), printed again at the end when the console is quiet.
RECORD=/tmp/hostile.results
AT_FINISH=replay

replay() {
	sleep 0.2
	[ -f "$RECORD" ] || return 0
	echo "XBGEN-HOSTILE-REPLAY $(now)"
	cat "$RECORD"
}

# The node xenbus_dev_fatal() writes for a backend device (relative to dom0's home).
err_path() { echo "/local/domain/0/error/backend/$DEV/$1/$2"; }
error_seen() { xenstore-exists "$(err_path "$1" "$2")/error"; }
fe_closed() { case $(state_of "$(fe_path "$1" "$2")") in 6 | gone) return 0 ;; esac; return 1; }
be_closing() { case $(state_of "$(be_path "$1" "$2")") in 5 | 6 | gone) return 0 ;; esac; return 1; }

# must SECONDS COMMAND ARGS...: the guest runs COMMAND, and must answer PASS.
must() {
	secs=$1; shift
	next_key k
	guest_ask "$secs" "$key" "$@"
}

# healthy_selftest NAME: the tree's frontend runs the check-sized self-test on
# the healthy device; an XBGEN-SELFTEST line (or XBGEN-HOSTILE-SELFTEST-FAIL).
healthy_selftest() {
	ring_selftest "$1" "$DEVID" "$CHECK_REQUESTS" "$CHECK_DEPTH" || \
		record "XBGEN-HOSTILE-SELFTEST-FAIL $1 $res"
}

stage_guest() {
	step hostile/guest
	load "$BE_MOD"
	start_guest
	end_step
	PREFIX=hostile/healthy
	activate "$DOMID"
	connect "$DOMID"
	step hostile/healthy-baseline
	guest_result connected 30
	healthy_selftest hostile/baseline
	end_step "$(guest_key connected)"
}

# attack_round MODE: plug the hostile device, let the guest attack with MODE,
# observe the backend, unplug, run the healthy self-test.
attack_round() {
	mode=$1
	step "hostile/$mode"
	hd=$HOSTILE_DEVID
	xenstore-rm "$(err_path "$DOMID" "$hd")" 2>/dev/null
	dmesg > /tmp/dmesg.start
	mark=$(wc -l < /tmp/dmesg.start)
	run sh "$DRV/activate.sh" "$DOMID" "$hd"
	must 60 attack "$mode" "$hd"
	record "XBGEN-HOSTILE-BOUND $mode ${res#PASS } $(now)"

	# The healthy device works while the hostile one is plugged (the long
	# attacks are still on; prod-overflow is over unless the check is gone).
	case $mode in prod-overflow | rewrite | event-storm | buf-rewrite) healthy_selftest "hostile/$mode/during" ;; esac

	limit=$ATTACK_WAIT
	case " $NO_CUT " in *" $mode "*) limit=$NO_CUT_WAIT ;; esac
	case " $QUICK " in *" $mode "*) limit=$QUICK_WAIT ;; esac
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
	sh "$DRV/deactivate.sh" "$DOMID" "$hd" > /tmp/deactivate.out 2>&1
	deact=$?
	sed 's/^/  | /' /tmp/deactivate.out
	wait_for 10 be_unregistered "$DOMID" "$hd" && gone=yes || gone=no

	# What the backend's kernel said about the device, and when (dom0 clock):
	# from the backend's connect line to its first line about the device.
	dmesg | tail -n +$((mark + 1)) > /tmp/dmesg.attack
	# (the backend's own probe, connect and disconnect lines name the device too)
	chatter='Probe called\.|onnecting the backend now\.'
	grep -F " $DEV-$DOMID-$hd: " /tmp/dmesg.attack | grep -vE "$chatter" > /tmp/dmesg.dev
	cutoff=$(awk -v conn="$CONNECT_BACK" -v dev=" $DEV-$DOMID-$hd: " -v chatter="$chatter" '
		function stamp(line) { sub(/^\[ */, "", line); sub(/\].*/, "", line); return line }
		index($0, conn) { t0 = stamp($0); next }
		$0 ~ chatter { next }
		index($0, dev) && t0 != "" { printf "%.3f", stamp($0) - t0; exit }' /tmp/dmesg.attack)
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
	if both_connected "$DOMID"; then healthy=Connected; else healthy=$(states "$DOMID" | tr ' ' ,); fi
	record "XBGEN-HOSTILE-RESULT $mode cut=$cut closed=$closed seconds=$cutoff connects=$connects state=$state frontend=$fstate deactivate=$deact unregistered=$gone kernel=$kernel healthy=$healthy"
	# Not end_step: a kernel complaint is recorded for the harness, and the
	# next attack still runs.
	pass "cut=$cut seconds=$cutoff kernel=$kernel"
}

stage_unload() {
	step hostile/unload
	must 30 unload
	run sh "$DRV/deactivate.sh" "$DOMID" "$DEVID"
	wait_for 10 be_unregistered "$DOMID" || fail "healthy backend device still registered"
	remove_module "$BACK_MOD"
	must 30 check
	end_step "guest: ${res#PASS }"
}

# back_round MODE: the tree's frontend against the hostile backend
# (hostile_back.c) in MODE: plug the healthy device, run a short self-test
# with buffers of BACK_SIZE bytes, read what the frontend said, unplug.
back_round() {
	bmode=$1
	step "hostile/back-$bmode"
	DMESG_MARK=$(dmesg | wc -l)
	run insmod "/xbgen/hostile/$HOSTILE_BACK_MOD.ko" "mode=$bmode"
	run sh "$DRV/activate.sh" "$DOMID"
	wait_for "$HANDSHAKE_TIMEOUT" both_connected "$DOMID" || \
		fail "not Connected after ${HANDSHAKE_TIMEOUT}s: $(states "$DOMID")"
	must 30 mark
	must 90 st-try "$DEVID" 4 2 60 ${BACK_SIZE:+"$BACK_SIZE"}
	selftest=${res#PASS }
	must 30 front-broke
	said=${res#PASS }
	sh "$DRV/deactivate.sh" "$DOMID" > /tmp/deactivate.out 2>&1
	deact=$?
	sed 's/^/  | /' /tmp/deactivate.out
	wait_for 10 be_unregistered "$DOMID" && gone=yes || gone=no
	remove_module "$HOSTILE_BACK_MOD"
	if kernel_clean; then kernel=clean; else
		kernel=bad
		echo "$bad" | while read -r line; do record "XBGEN-HOSTILE-KERNEL back-$bmode $line"; done
	fi
	record "XBGEN-HOSTILE-BACK $bmode $selftest deactivate=$deact gone=$gone dom0=$kernel guest_$said"
	pass "deactivate=$deact gone=$gone dom0=$kernel"
}

stage_backends() {
	must 30 autoprobe 1
	for bmode in $BACK_MODES; do back_round "$bmode"; done
}

main() {
	mount_basics
	echo "XBGEN-BOOT $(now)"
	boot_toolstack hostile/toolstack
	stage_guest
	[ "$CONTRACT" = 1 ] && contract_guest_b
	for mode in $ATTACKS; do attack_round "$mode"; done
	stage_unload
	stage_backends
	[ "$CONTRACT" = 1 ] && contract_stages
	finish PASS
}

main
