# shellcheck shell=sh disable=SC2154 # res, figures, key, counts: guests.sh, ring.sh
# e2e lifecycle stage (see protocol.sh): what a Xen admin does to a running
# guest, with its device Connected.  After each step both ends are Connected
# again (plugged for the guest's new domain the way the tree's activate.sh
# tells an admin: the guest restored or migrated paused, then
# `activate.sh --unpause NEW_DOMID`), the self-test passes, exactly one IRQ
# serves the device, the old domain is gone for good (no zombie: the backend
# unmapped all of it), and what the kernels and Xen hold is back where it
# was.
#
#   lifecycle/save-restore-N    xl save, xl restore -p, re-plug (LIFECYCLE_SAVES times)
#   lifecycle/save-inflight     the same while a long self-test runs: the
#                               guest must freeze, and the calls in flight
#                               end as the spec's ring.on_resume says
#   lifecycle/localmigrate-N    xl migrate -p to this host (MIGRATE_TIMES
#                               times), where this Xen can migrate a PV guest
#   lifecycle/reboot            xl reboot: the guest boots again in a new
#                               domain; activate.sh for it
#   lifecycle/shutdown          xl shutdown: the guest closes its device and
#                               powers off; then it is started again
#   lifecycle/checkpoint        xl save -c: the suspend is cancelled, the
#                               guest goes on in the same domain, no re-plug
#                               (CHECKPOINT=1: not bullseye, whose guest
#                               kernel BUG()s in its own resume then)

SAVE_FILE=/tmp/guest.save
# A save or restore writes or reads the guest's 192 MiB under emulation:
# about 10 s here, 60 s on a loaded machine; then the freezer's 20 s.
SAVE_BOUND=180

# guest_back OLD: a domain of the guest's name runs, and it is not OLD.
guest_back() {
	back=$(xl domid "$GUEST_NAME" 2>/dev/null) && [ "$back" != "$1" ]
}

# after_move WHAT OLD: the guest runs as $DOMID (was OLD): the old domain and
# its backend are gone, both ends Connected, one IRQ for the device.
after_move() {
	wait_for 30 domain_gone "$2" || fail "domain $2 still listed 30 s after $1 (a dying domain: its pages still mapped?): $(xl list 2>&1 | tr '\n' ';')"
	wait_long "$HANDSHAKE_TIMEOUT" both_connected "$DOMID" || \
		fail "not Connected ${HANDSHAKE_TIMEOUT}s after $1 and the re-plug: $(states "$DOMID")"
	xenstore-exists "$(be_path "$2")" && fail "domain $2's backend directory still there after activate.sh"
	wait_for 10 be_unregistered "$2" || fail "backend device $(be_device "$2") still registered after $1"
	next_key irq
	guest_ask 30 "$key" counters
	# a ring tree's device has one IRQ; a handshake-only one none
	case " ${res#PASS } " in
	*" irq_dev=$RING "*) ;;
	*) fail "after $1 the guest has $(echo "$res" | sed -n 's/.*irq_dev=\([0-9]*\).*/\1/p') IRQs for the device, want $RING: ${res#PASS }" ;;
	esac
}

# replug OLD: plug the device for the guest's new domain (its name's domid
# now) as the README tells an admin, then unpause it.
replug() {
	DOMID=$(xl domid "$GUEST_NAME") || fail "no domain named $GUEST_NAME after $1"
	[ "$DOMID" != "$1" ] || fail "the guest kept domain id $1"
	echo "XBGEN-GUEST-DOMID $DOMID"
	run sh "$DRV/activate.sh" --unpause "$DOMID" || fail "activate.sh --unpause $DOMID failed"
}

# save_restore WHAT: xl save the guest, xl restore -p it, re-plug.
save_restore() {
	old=$DOMID
	rm -f "$SAVE_FILE"
	t0=$(centis)
	run timeout "$SAVE_BOUND" xl save "$DOMID" "$SAVE_FILE" || fail "xl save $DOMID failed (or took over $SAVE_BOUND s)"
	t_save=$(( $(centis) - t0 ))
	run timeout "$SAVE_BOUND" xl restore -p "$SAVE_FILE" || fail "xl restore -p failed (or took over $SAVE_BOUND s)"
	rm -f "$SAVE_FILE"
	t_restore=$(( $(centis) - t0 - t_save ))
	replug "$old"
	after_move "$1" "$old"
	took="save $((t_save / 100)).$((t_save % 100 / 10)) s, restore $((t_restore / 100)).$((t_restore % 100 / 10)) s"
}

# counters_back WHAT: the counters are where $before has them.
counters_back() {
	tries=10
	while :; do
		all_counters
		diff=$(same_counts "$before" "$counts") && break
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || break
		sleep 1
	done
	[ -z "$diff" ] || fail "after $1: $diff"
}

# resumed_lines: how many "resumed in a new domain" lines the guest printed.
resumed_lines() { grep -c "resumed in a new domain" "$GUEST_LOG"; }

lifecycle_saves() {
	i=1
	while [ "$i" -le "$LIFECYCLE_SAVES" ]; do
		step "lifecycle/save-restore-$i"
		all_counters
		before=$counts
		resumed=$(resumed_lines)
		save_restore "xl save and restore"
		wait_for 10 test "$(resumed_lines)" -gt "$resumed" || fail "the guest never printed 'resumed in a new domain'"
		counters_back "save and restore $i"
		end_step "$took, domain $old -> $DOMID"
		selftest_step "lifecycle/selftest-after-restore-$i"
		i=$((i + 1))
	done
}

# lifecycle_inflight: a self-test of LONG_REQUESTS runs while the guest is
# saved; after the restore it must end (every call answered or failed as
# ring.on_resume says, none timed out) and a new one pass.
lifecycle_inflight() {
	step lifecycle/save-inflight
	next_key across
	across=$key
	send "$across" selftest-across "$DEVID" "$LONG_REQUESTS" "$CHECK_DEPTH" "$SAVE_BOUND"
	answer 60 "$across-running" || fail "the guest's long self-test did not start: $res"
	save_restore "xl save and restore during a self-test"
	answer $((SAVE_BOUND + 30)) "$across" || fail "the self-test across the save never ended"
	case "$res" in PASS*) ;; *) fail "guest: $res" ;; esac
	line=$(grep "resumed in a new domain" "$GUEST_LOG" | tail -1)
	inflight=$(echo "$line" | sed -n 's/.*: \([0-9]*\) calls in flight.*/\1/p')
	[ -n "$inflight" ] || fail "the guest printed no 'resumed in a new domain: N calls in flight' line"
	bad=$(echo "$res" | sed -n 's/.* bad=\([0-9]*\).*/\1/p')
	if [ "$ON_RESUME" = reissue ]; then
		[ "$bad" = 0 ] || fail "on_resume = reissue, yet $bad calls failed: $res"
	else
		[ "$bad" -le "$inflight" ] || fail "$inflight calls were in flight, yet $bad failed: $res"
	fi
	end_step "$took; $inflight calls in flight at the save; ${res#PASS }"
	selftest_step lifecycle/selftest-after-inflight
}

lifecycle_checkpoint() {
	step lifecycle/checkpoint
	all_counters
	before=$counts
	resumed=$(resumed_lines)
	rm -f "$SAVE_FILE"
	t0=$(centis)
	run timeout "$SAVE_BOUND" xl save -c "$DOMID" "$SAVE_FILE" || fail "xl save -c $DOMID failed"
	took=$(( $(centis) - t0 ))
	rm -f "$SAVE_FILE"
	xl list "$DOMID" >/dev/null 2>&1 || fail "domain $DOMID gone after xl save -c"
	both_connected "$DOMID" || fail "not Connected after xl save -c: $(states "$DOMID")"
	[ "$(resumed_lines)" = "$resumed" ] || fail "the guest took the cancelled suspend for a resume"
	counters_back "xl save -c"
	end_step "xl save -c took $((took / 100)).$((took % 100 / 10)) s, domain $DOMID goes on; xl monitors left: $(pidof xl | wc -w)"
	selftest_step lifecycle/selftest-after-checkpoint
}

lifecycle_migrate() {
	i=1
	while [ "$i" -le "$MIGRATE_TIMES" ]; do
		step "lifecycle/localmigrate-$i"
		all_counters
		before=$counts
		old=$DOMID
		t0=$(centis)
		run timeout "$SAVE_BOUND" xl migrate -s '' -p "$DOMID" 'xl migrate-receive -p' || fail "xl migrate $DOMID failed"
		took=$(( $(centis) - t0 ))
		replug "$old"
		after_move "xl migrate" "$old"
		counters_back "local migration $i"
		end_step "xl migrate took $((took / 100)).$((took % 100 / 10)) s, domain $old -> $DOMID"
		selftest_step "lifecycle/selftest-after-migrate-$i"
		i=$((i + 1))
	done
}

# reboot: the guest's own shutdown closes its device (xenbus waits for the
# backend), the toolstack starts it again in a new domain, whose init loads
# the frontend; activate.sh plugs it and removes the old domain's backend.
lifecycle_reboot() {
	step lifecycle/reboot
	old=$DOMID
	run xl reboot "$DOMID" || fail "xl reboot $DOMID failed"
	wait_for 60 domain_gone "$old" || fail "domain $old still listed 60 s after xl reboot"
	wait_long 60 guest_back "$old" || fail "the guest did not come back within 60 s of xl reboot"
	DOMID=$(xl domid "$GUEST_NAME")
	echo "XBGEN-GUEST-DOMID $DOMID"
	guest_result loaded 90
	run sh "$DRV/activate.sh" "$DOMID" || fail "activate.sh $DOMID failed"
	guest_result connected "$HANDSHAKE_TIMEOUT"
	after_move "xl reboot" "$old"
	end_step "domain $old -> $DOMID"
	selftest_step lifecycle/selftest-after-reboot
}

# shutdown: the guest powers off (its kernel closes the device first); the
# backend closes and, once deactivate.sh (or the next activate.sh) removes
# the directories, goes.  Then the guest is started again for what follows.
lifecycle_shutdown() {
	step lifecycle/shutdown
	old=$DOMID
	mark_trace
	run timeout 120 xl shutdown -w "$DOMID" || fail "xl shutdown -w $DOMID failed or took over 120 s"
	wait_for 30 domain_gone "$old" || fail "domain $old still listed 30 s after it shut down"
	written "backend/$DEV/$old/$DEVID/state" 6 || fail "the backend never wrote Closed (6) while the guest shut down"
	grep -q "timeout closing device" "$GUEST_LOG" && fail "the guest's kernel timed out closing the device"
	run sh "$DRV/deactivate.sh" "$old" || fail "deactivate.sh $old failed"
	wait_for 10 be_unregistered "$old" || fail "backend device $(be_device "$old") still registered"
	# the same config, so the same physical CPU (new_guest would take the
	# next one, which this machine may not have)
	run xl create "/tmp/$GUEST_NAME.cfg" || fail "xl create of the guest again failed"
	DOMID=$(xl domid "$GUEST_NAME")
	echo "XBGEN-GUEST-DOMID $DOMID"
	guest_result loaded 90
	run sh "$DRV/activate.sh" "$DOMID" || fail "activate.sh $DOMID failed"
	guest_result connected "$HANDSHAKE_TIMEOUT"
	end_step "domain $old shut down; the guest started again as $DOMID"
}

lifecycle_stage() {
	[ "$LIFECYCLE_SAVES" -gt 0 ] && lifecycle_saves
	[ "$SELFTEST" = 1 ] && [ "$SAVE_RESTORE" = 1 ] && lifecycle_inflight
	if [ "$MIGRATE_TIMES" -gt 0 ]; then lifecycle_migrate; fi
	lifecycle_reboot
	lifecycle_shutdown
	# last: once its domain has suspended, xl's monitor of it exits (with
	# xl save -c too), and nothing would restart or destroy it on a reboot
	if [ "$CHECKPOINT" = 1 ]; then lifecycle_checkpoint; fi
}
