# shellcheck shell=sh disable=SC2154 # res, key, pid: guests.sh and devices.sh set them
# Issue 15's stages, in the hostile test's boot after the attacks (sourced
# by dom0-init.sh when CONTRACT=1).  The backend is then a variant of the
# tree's (/xbgen/sleepy/: its user file's handler sleeps SLEEP_MS per
# request, the harness builds it); the main guest is "A" and a second
# guest, GUEST_B, is created here.
#
#   contract/stall   A fills its whole ring on the sleeping backend and is
#                    unplugged; meanwhile B's device plugs, connects and
#                    unplugs: each state change must come promptly (dom0's
#                    xenwatch thread serves every guest), no hung task.
#   contract/resume  A is saved and restored with calls in flight on the
#                    sleeping backend (issue 16), once per on_resume
#   contract/unload  the backend is unloaded (unbind, rmmod) while A's self-test
#                    has a full ring in flight: the calls return within
#                    their timeout; then a call that queues for a slot of
#                    that full ring is released by its timeout (-EBUSY).
#   contract/wrap    the self-test refuses "4294967295 2" (-EINVAL) and
#                    leaves nothing in flight: deactivate and both rmmods
#                    complete.
#
# Each stage records XBGEN-CONTRACT NAME KEY=VALUE... lines (times are dom0
# uptimes; a guest's durations are measured in the guest) and, for kernel
# complaints, XBGEN-CONTRACT-KERNEL NAME LINE; the harness judges
# (harness.judge_contract).  Only a broken harness step stops the run.

SLEEPY_KO=/xbgen/sleepy/$BACK_MOD.ko
SLEEPY_LINE='xbgen-sleepy: request'
HUNG_LINE='blocked for more than|hung_task'
HUNG_SYSCTL=/proc/sys/kernel/hung_task_timeout_secs

# ask SECONDS COMMAND ARGS...: the guest (DOMID) runs COMMAND; its answer,
# PASS or FAIL, goes to $res (empty when none came within SECONDS).
ask() {
	secs=$1; shift
	next_key c
	send "$key" "$@"
	answer "$secs" "$key" || res=
}

# fields: $res without its PASS/FAIL word, for a record line ("answer=none"
# when the guest said nothing, "failed=..." with its reason, spaces as _).
fields() {
	case "$res" in
	PASS*) echo "${res#PASS }" ;;
	'') echo "answer=none" ;;
	*) echo "failed=$(echo "${res#FAIL }" | tr ' =' '_:')" ;;
	esac
}

# since MARK: dom0's kernel log after its first MARK lines.
since() { dmesg | tail -n +$(($1 + 1)); }
sleepy_ran() { since "$1" | grep -qF "$SLEEPY_LINE"; }

fe_done() { case $(state_of "$(fe_path "$1")") in 6 | gone) return 0 ;; esac; return 1; }

# stamp VAR SECONDS TEST...: VAR = dom0 uptime when TEST first held, or "-"
# when it did not within SECONDS.
stamp() {
	var=$1; shift
	if wait_for "$@"; then eval "$var=\$(now)"; else eval "$var=-"; fi
}

# event_log PATH: from now on, dom0's uptime at each xenstore watch event on
# PATH (a write or its removal; the first comes as the watch is set), one
# per line in /tmp/events.log; no fork per event.  xenstore-watch gets its
# events from xenstored itself, not through the kernel's xenwatch thread (a
# stalled thread, on today's templates before issue 15, did not delay them).
event_log() {
	: > /tmp/events.log
	xenstore-watch "$1" | while read -r _; do
		read -r up _ < /proc/uptime
		echo "$up" >> /tmp/events.log
	done &
	EVENT_LOG=$!
}

# first_event VAR SINCE: VAR = the first event at or after SINCE, or "-".
first_event() {
	t=$(awk -v since="$2" '$1 >= since { print $1; exit }' /tmp/events.log)
	eval "$1=${t:--}"
}

# sysfs_log DEVICE SECONDS: in the background, "UPTIME STATE" in
# /tmp/sysfs.log each time xenbus device DEVICE's state in sysfs (its
# driver's own view, switched in the xenwatch thread) changes, and "gone"
# when the device is not (or no longer) there; every 20 ms, builtins only
# (a fork takes long under emulation, and dom0 has one vCPU), until the
# device has come and gone or SECONDS have passed.
sysfs_log() {
	: > /tmp/sysfs.log
	{
		[ -p /tmp/tick ] || mkfifo /tmp/tick
		exec 9<> /tmp/tick
		read -r up _ < /proc/uptime
		deadline=$(( ${up%.*} + $2 ))
		last=none
		while :; do
			read -r up _ < /proc/uptime
			s=gone
			{ read -r s < "$1/state"; } 2> /dev/null
			if [ "$s" != "$last" ]; then
				echo "$up $s" >> /tmp/sysfs.log
				[ "$s" = gone ] && [ "$last" != none ] && break
				last=$s
			fi
			[ "${up%.*}" -ge "$deadline" ] && break
			# shellcheck disable=SC3045 # busybox ash has read -t
			read -r -t 0.02 _ <&9
		done
	} &
}

# logged STATE: /tmp/sysfs.log has a line for STATE (builtins only: polled).
logged() {
	while read -r _ s; do [ "$s" = "$1" ] && return 0; done < /tmp/sysfs.log
	return 1
}

# first_logged VAR STATE...: VAR = when /tmp/sysfs.log first showed one of
# STATE... after the device appeared, or "-".
first_logged() {
	var=$1; shift
	t=$(awk -v want=" $* " '$2 != "gone" { seen = 1 } seen && index(want, " " $2 " ") { print $1; exit }' /tmp/sysfs.log)
	eval "$var=${t:--}"
}

# bg NAME CMD...: run CMD in the background, its output in /tmp/NAME.out;
# when it ends, its status and the dom0 uptime go to /tmp/NAME.end.
bg() {
	name=$1; shift
	rm -f "/tmp/$name.end"
	{
		"$@" > "/tmp/$name.out" 2>&1
		echo "$? $(now)" > "/tmp/$name.end"
	} &
}

# bg_done VAR NAME SECONDS: when bg NAME ended (VAR, "-" when it had not
# within SECONDS) and its status (VAR_rc, "-" as well); its output, shown.
bg_done() {
	if wait_long "$3" test -e "/tmp/$2.end"; then
		read -r bg_rc bg_end < "/tmp/$2.end"
	else
		bg_rc=- bg_end=-
	fi
	eval "$1=$bg_end $1_rc=$bg_rc"
	sed "s/^/  | $2: /" "/tmp/$2.out"
}

# judge_kernel NAME MARK: hung tasks and complaints in dom0's log since MARK:
# $hung (a count) and $kernel (clean or bad), bad lines recorded.
judge_kernel() {
	since "$2" > /tmp/contract.dmesg
	hung=$(grep -cE "$HUNG_LINE" /tmp/contract.dmesg)
	grep -E "$KERNEL_BAD|$HUNG_LINE" /tmp/contract.dmesg | head -5 > /tmp/contract.bad
	if [ -s /tmp/contract.bad ]; then
		kernel=bad
		while read -r line; do record "XBGEN-CONTRACT-KERNEL $1 $line"; done < /tmp/contract.bad
	else
		kernel=clean
	fi
}

# plug_a: plug A's device (DEVID) and wait until both ends are Connected.
plug_a() {
	run sh "$DRV/activate.sh" "$DOMID" "$DEVID"
	wait_for "$HANDSHAKE_TIMEOUT" both_connected "$DOMID" || \
		fail "guest A's device not Connected after ${HANDSHAKE_TIMEOUT}s: $(states "$DOMID")"
}

# contract_guest_b: create guest B early (dom0-init.sh calls this right
# after guest A is up): it boots on its own CPU while the attacks run.
contract_guest_b() {
	step contract/create-guest-b
	B_CREATED=$(now)
	new_guest "$GUEST_B" /xbgen/guest
	B=$NEW_DOMID
	end_step "domain $B"
}

# contract_setup: the sleeping backend, guest B up, and A taking devices again.
contract_setup() {
	step contract/setup
	# A task blocked this long is reported (the default, 120 s, is longer
	# than a whole ring of sleeping handlers takes).
	if echo 10 > "$HUNG_SYSCTL"; then hung_after=10; else hung_after=none; fi
	CONTRACT_MARK=$(dmesg | wc -l)
	load "$SLEEPY_KO"
	on_domain "$B" guest_result loaded 120
	# The hostile test turned autoprobe off in A: its frontend takes new devices again.
	must 30 autoprobe 1
	end_step "sleeping backend loaded, guest B (domain $B, created at $B_CREATED) up, hung task after ${hung_after} s"
}

contract_stall() {
	step contract/stall
	mark=$(dmesg | wc -l)
	plug_a
	# A whole ring in flight, and as much again to send once it is cut.
	ask 30 st-start "$DEVID" $((RING_SLOTS * 2)) "$RING_SLOTS"
	case "$res" in PASS*) ;; *) fail "guest A's self-test did not start: ${res:-no answer}" ;; esac
	t_selftest=$(now)
	wait_for 60 sleepy_ran "$mark" || fail "the sleeping handler never ran within 60 s of A's self-test"
	t_handler=$(now)

	# Unplug A; once its frontend has closed, dom0's xenwatch thread has the
	# backend's disconnect in hand: plug B's device then.
	t_a_deactivate=$(now)
	bg deactivate-a sh "$DRV/deactivate.sh" "$DOMID" "$DEVID"
	stamp t_a_front_closed 30 fe_done "$DOMID"

	# B's device: its backend's state changes, each from the one before.
	# Plugging it ends with activate.sh's write of Initialising (the first
	# event on the backend's state key, or activate.sh's return if that came
	# first); then the backend's driver must reach InitWait, and Connected
	# once B's frontend has answered (sysfs).  deactivate.sh writes Closing
	# (the next event); the backend must reach Closed once B's frontend has
	# closed, and unregister its device (sysfs).
	bdev=$BE_DEVICES/$DEV-$B-$DEVID
	sysfs_log "$bdev" "$CONTRACT_WAIT"
	event_log "$(be_path "$B")/state"
	wait_for 30 test -s /tmp/events.log || fail "xenstore-watch on B's backend state never fired"
	t_b_activate=$(now)
	sh "$DRV/activate.sh" "$B" "$DEVID" > /tmp/activate-b.out 2>&1 || \
		fail "activate.sh for guest B exited $?: $(cat /tmp/activate-b.out)"
	t_b_activated=$(now)
	wait_for "$CONTRACT_WAIT" logged Connected
	t_b_deactivate=$(now)
	bg deactivate-b sh "$DRV/deactivate.sh" "$B" "$DEVID"
	wait_for "$CONTRACT_WAIT" logged gone
	bg_done t_b_deactivated deactivate-b "$CONTRACT_WAIT"
	kill "$EVENT_LOG" 2> /dev/null
	first_event t_b_initialising "$t_b_activate"
	first_event t_b_closing "$t_b_deactivate"
	first_logged t_b_initwait InitWait Connected
	first_logged t_b_connected Connected
	first_logged t_b_closed Closed gone
	first_logged t_b_gone gone
	sed 's/^/  | B backend, sysfs: /' /tmp/sysfs.log
	sed 's/^/  | B backend, state key events: /' /tmp/events.log

	bg_done t_a_deactivated deactivate-a "$CONTRACT_WAIT"
	stamp t_a_gone "$CONTRACT_WAIT" be_unregistered "$DOMID"
	ask $((CALL_WAIT + 30)) st-wait "$CALL_WAIT"
	record "XBGEN-CONTRACT stall/a-selftest $(fields)"

	handlers=$(since "$mark" | grep -cF "$SLEEPY_LINE")
	judge_kernel contract/stall "$mark"
	record "XBGEN-CONTRACT stall selftest=$t_selftest handler=$t_handler a_deactivate=$t_a_deactivate a_front_closed=$t_a_front_closed b_activate=$t_b_activate b_initialising=$t_b_initialising b_activated=$t_b_activated b_initwait=$t_b_initwait b_connected=$t_b_connected b_deactivate=$t_b_deactivate b_closing=$t_b_closing b_closed=$t_b_closed b_gone=$t_b_gone b_deactivated=$t_b_deactivated b_deactivate_rc=$t_b_deactivated_rc a_deactivated=$t_a_deactivated a_deactivate_rc=$t_a_deactivated_rc a_gone=$t_a_gone handlers=$handlers hung=$hung kernel=$kernel"
	run xl destroy "$B"
	# Not end_step: the harness judges what was recorded.
	pass "B: Initialising $t_b_initialising (activate.sh returned $t_b_activated), InitWait $t_b_initwait, Connected $t_b_connected; Closing $t_b_closing, Closed $t_b_closed, device gone $t_b_gone"
}

# contract_resume: issue 16.  A's self-test has calls on the sleeping
# backend's ring when A is saved (the guest must freeze with calls in
# flight), restored paused and re-plugged with `activate.sh --unpause`:
# first with the tree's frontend (on_resume = "fail": those calls fail with
# ECONNRESET), then with the frontend of the same spec with on_resume =
# "reissue" (/xbgen/reissue/: they are sent again and answered).  Each half
# records the calls in flight at the save (the frontend's "resumed" line),
# how many were sent again, whether the old domain went (its backend, in a
# sleeping handler when A left, must still unmap everything) and A's
# self-test figures.
contract_resume() {
	step contract/resume
	mark=$(dmesg | wc -l)
	for variant in fail reissue; do
		if [ "$variant" = reissue ]; then
			ask 60 front-swap /xbgen/reissue
			case "$res" in PASS*) ;; *) fail "guest A could not load the reissue frontend: ${res:-no answer}" ;; esac
		fi
		plug_a
		vmark=$(dmesg | wc -l)
		lines=$(grep -c "resumed in a new domain" "$GUEST_LOG")
		# 4 in flight on a backend that takes 2 s a request: 3 of them queued at the save
		ask 30 st-start "$DEVID" 12 4
		case "$res" in PASS*) ;; *) fail "guest A's self-test did not start: ${res:-no answer}" ;; esac
		wait_for 60 sleepy_ran "$vmark" || fail "the sleeping handler never ran within 60 s of A's self-test"
		old=$DOMID
		t0=$(centis)
		timeout 180 xl save "$DOMID" /tmp/a.save > /tmp/save.out 2>&1 || fail "xl save $DOMID: $(cat /tmp/save.out)"
		t1=$(centis)
		timeout 180 xl restore -p /tmp/a.save > /tmp/save.out 2>&1 || fail "xl restore -p: $(cat /tmp/save.out)"
		rm -f /tmp/a.save
		t2=$(centis)
		DOMID=$(xl domid "$GUEST_NAME") || fail "no domain $GUEST_NAME after the restore"
		run sh "$DRV/activate.sh" --unpause "$DOMID" || fail "activate.sh --unpause $DOMID failed"
		wait_for "$HANDSHAKE_TIMEOUT" both_connected "$DOMID" || \
			fail "A not Connected again after the restore: $(states "$DOMID")"
		ask $((CALL_WAIT + 60)) st-wait $((CALL_WAIT + 30))
		record "XBGEN-CONTRACT resume/$variant-selftest $(fields)"
		stamp t_old_gone 30 domain_gone "$old"
		wait_for 10 test "$(grep -c "resumed in a new domain" "$GUEST_LOG")" -gt "$lines"
		inflight=$(grep "resumed in a new domain" "$GUEST_LOG" | tail -1 | sed -n 's/.*: \([0-9]*\) calls in flight.*/\1/p')
		again=$(grep "calls again after the resume" "$GUEST_LOG" | tail -1 | sed -n 's/.*sent \([0-9]*\) calls again.*/\1/p')
		ask 30 counters
		irqs=$(echo "${res#PASS }" | sed -n 's/.*irq_dev=\([0-9]*\).*/\1/p')
		sh "$DRV/deactivate.sh" "$DOMID" "$DEVID" > /tmp/deactivate-a.out 2>&1
		deact=$?
		stamp t_gone 30 be_unregistered "$DOMID"
		record "XBGEN-CONTRACT resume/$variant domain=$old->$DOMID save_s=$(((t1 - t0) / 100)) restore_s=$(((t2 - t1) / 100)) inflight=${inflight:--} sent_again=${again:-0} irq_dev=${irqs:--} old_gone=$t_old_gone deactivate_rc=$deact gone=$t_gone"
	done
	judge_kernel contract/resume "$mark"
	record "XBGEN-CONTRACT resume hung=$hung kernel=$kernel"
	pass "domain now $DOMID"
}

contract_unload() {
	step contract/unload
	mark=$(dmesg | wc -l)
	plug_a
	ask 30 st-start "$DEVID" "$RING_SLOTS" "$RING_SLOTS"
	case "$res" in PASS*) ;; *) fail "guest A's self-test did not start: ${res:-no answer}" ;; esac
	t_selftest=$(now)
	wait_for 60 sleepy_ran "$mark" || fail "the sleeping handler never ran within 60 s of A's self-test"
	t_handler=$(now)
	# A bound xenbus device holds its driver's module: unbind, then rmmod.
	t_unbind=$(now)
	bg unbind sh -c "echo $DEV-$DOMID-$DEVID > /sys/bus/xen-backend/drivers/$DEV/unbind"
	bg_done t_unbound unbind "$CONTRACT_WAIT"
	t_rmmod=$(now)
	bg rmmod rmmod "$BACK_MOD"
	bg_done t_rmmoded rmmod "$CONTRACT_WAIT"
	ask $((CALL_WAIT + 30)) st-wait "$CALL_WAIT"
	record "XBGEN-CONTRACT unload/selftest $(fields)"
	# The ring is full of requests nobody will answer, but for the slots
	# of those answered before the unbind: a self-test that fills those
	# too then queues for a slot until its call's timeout (-EBUSY).
	ask $((CALL_WAIT + 30)) st-try "$DEVID" "$RING_SLOTS" "$RING_SLOTS" "$CALL_WAIT"
	record "XBGEN-CONTRACT unload/queued $(fields)"

	sh "$DRV/deactivate.sh" "$DOMID" "$DEVID" > /tmp/deactivate-a.out 2>&1
	deact=$?
	sed 's/^/  | /' /tmp/deactivate-a.out
	stamp t_gone 30 be_unregistered "$DOMID"
	judge_kernel contract/unload "$mark"
	record "XBGEN-CONTRACT unload selftest=$t_selftest handler=$t_handler unbind=$t_unbind unbound=$t_unbound unbind_rc=$t_unbound_rc rmmod=$t_rmmod rmmoded=$t_rmmoded rmmod_rc=$t_rmmoded_rc deactivate_rc=$deact gone=$t_gone hung=$hung kernel=$kernel"
	# The next stage loads the tree's own backend: this one must be gone.
	! grep -q "^$BACK_MOD " /proc/modules || fail "the sleeping backend is still loaded: $(cat /tmp/rmmod.out)"
	pass "rmmod $t_rmmod -> $t_rmmoded"
}

contract_wrap() {
	step contract/wrap
	mark=$(dmesg | wc -l)
	load "$BE_MOD"
	plug_a
	ask 60 st-try "$DEVID" 4294967295 2 30
	record "XBGEN-CONTRACT wrap/write $(fields)"
	t_deactivate=$(now)
	sh "$DRV/deactivate.sh" "$DOMID" "$DEVID" > /tmp/deactivate-a.out 2>&1
	deact=$?
	sed 's/^/  | /' /tmp/deactivate-a.out
	stamp t_gone 30 be_unregistered "$DOMID"
	ask 60 front-unload
	record "XBGEN-CONTRACT wrap/front-rmmod $(fields)"
	bg rmmod rmmod "$BACK_MOD"
	bg_done t_rmmoded rmmod 30
	judge_kernel contract/wrap "$mark"
	record "XBGEN-CONTRACT wrap deactivate=$t_deactivate deactivate_rc=$deact gone=$t_gone back_rmmoded=$t_rmmoded back_rmmod_rc=$t_rmmoded_rc hung=$hung kernel=$kernel"
	pass "deactivate.sh exited $deact"
}

# contract_end: hung tasks anywhere since the stages began (the detector
# looks every hung_task_timeout_secs, so a late report lands here).
contract_end() {
	step contract/end
	judge_kernel contract/end "$CONTRACT_MARK"
	record "XBGEN-CONTRACT end hung=$hung kernel=$kernel"
	pass "hung=$hung kernel=$kernel"
}

contract_stages() {
	contract_setup
	contract_stall
	contract_resume
	contract_unload
	contract_wrap
	contract_end
}
