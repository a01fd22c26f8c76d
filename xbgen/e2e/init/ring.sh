# shellcheck shell=sh disable=SC2154 # res, figures, key: guests.sh sets them
# The data path of an e2e run (see protocol.sh), for a tree with a ring: the
# guest runs the frontend's debugfs self-test, the device is unplugged and
# plugged again RING_CYCLES times, and what the kernels and Xen hold for it
# must be back where it started.

# selftest_step NAME [DEVID [N [C]]]: one step that runs the self-test (the
# check-sized one by default), when the tree has one.
selftest_step() {
	[ "$SELFTEST" = 1 ] || return 0
	step "$1"
	ring_selftest "$1" "${2:-$DEVID}" "${3:-$CHECK_REQUESTS}" "${4:-$CHECK_DEPTH}" || \
		fail "guest: $res"
	end_step "$figures"
}

# xen_counters: from Xen itself ('e' and 'g' debug keys, read back with xl
# dmesg): event channels in use per domain, and grants of each domain that
# another domain has mapped (active grant entries).
xen_counters() {
	xl dmesg -c > /dev/null
	xl debug-keys e
	xl debug-keys g
	xl dmesg > /tmp/xen-keys.out
	awk -v guest="$DOMID" -v dd="${BDOM:-}" '
	/Event channel information for domain/ { d = $NF; sub(/:$/, "", d); sect = "e"; next }
	/grant-table for remote d/ { d = $0; sub(/.*remote d/, "", d); sub(/ .*/, "", d); sect = "g"; next }
	/key .* pressed|\] done/ { sect = ""; next }
	sect == "e" && /^\(XEN\) +[0-9]+ \[/ { ev[d]++ }
	sect == "g" && /^\(XEN\) +\[0x[0-9a-f]+\]/ { gnt[d]++ }
	END {
		printf "xen.evtchn_d0=%d xen.evtchn_guest=%d ", ev[0], ev[guest]
		printf "xen.mapped_grants_d0=%d xen.mapped_grants_guest=%d", gnt[0], gnt[guest]
		if (dd != "") printf " xen.evtchn_dd=%d xen.mapped_grants_dd=%d", ev[dd], gnt[dd]
		printf "\n"
	}' /tmp/xen-keys.out
}

# all_counters: one line of what dom0's kernel, the guest's kernel, the driver
# domain's (dd.*, if any) and Xen hold for event channels, IRQs and grants,
# into $counts.
all_counters() {
	next_key cnt
	guest_ask 30 "$key" counters
	guest=$(echo "${res#PASS }" | tr ' ' '\n' | sed 's/^/guest./' | tr '\n' ' ')
	maps=$(grep -c xenbus_map_ring /proc/vmallocinfo)
	dom0="d0.irq_xen=$(irq_lines) d0.irq_dev=$(irq_lines "$BACK_MOD") d0.ring_maps=$maps"
	grants=$(grant_figures | tr ' ' '\n' | sed 's/^/d0./' | tr '\n' ' ')
	driver=
	if [ "$DRIVER_DOMAIN" = 1 ]; then
		next_key cnt
		on_domain "$BDOM" guest_ask 30 "$key" counters
		driver=$(echo "${res#PASS }" | tr ' ' '\n' | sed 's/^/dd./' | tr '\n' ' ')
	fi
	counts="$dom0 $grants$guest$driver$(xen_counters)"
}

# same_counts BEFORE AFTER: nothing differs but the running totals of
# deferred and freed grants; every deferred grant was freed.
same_counts() {
	echo "$1 $2" | awk '{
		for (i = 1; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] ~ /gnt_(deferred|freed)$/) { side = kv[1]; sub(/\.gnt_.*/, "", side); sides[side] = 1; n[side, kv[1] ~ /freed/] = kv[2]; continue }
			if (kv[1] in v) { if (v[kv[1]] != kv[2]) bad = bad " " kv[1] "=" v[kv[1]] "->" kv[2] } else v[kv[1]] = kv[2]
		}
		for (side in sides)
			if (n[side, 0] != n[side, 1]) bad = bad " " side " grants deferred " n[side, 0] " freed " n[side, 1]
		if (bad != "") { print substr(bad, 2); exit 1 }
	}'
}

# lap NAME: add "NAME=<seconds since the previous lap>" to $laps.
lap() {
	t=$(centis)
	d=$((t - LAP))
	laps="$laps $1=$((d / 100)).$((d % 100 / 10))"
	LAP=$t
}

# ring_cycles: unplug and plug the guest's device RING_CYCLES times, with the
# self-test after each connect; the counters must come back where they began.
ring_cycles() {
	step ring/cycles
	all_counters
	before=$counts
	echo "XBGEN-COUNTERS before $before"
	n=0; [ "$SELFTEST" = 1 ] && n=$CHECK_REQUESTS
	bound=$(selftest_bound "$n")
	t0=$(centis)
	i=1
	while [ "$i" -le "$RING_CYCLES" ]; do
		# The guest first waits for its device to go, then for it to connect.
		next_key cyc
		send "$key" cycle "$DEVID" "$n" "$CHECK_DEPTH" "$bound"
		LAP=$(centis) laps=
		run sh "$DRV/deactivate.sh" "$DOMID"
		lap deactivate
		wait_for 10 no_nodes "$DOMID" || fail "cycle $i: device nodes still present after deactivate"
		backend_gone "$DEVID" || fail "cycle $i: backend device still registered"
		guest_answer "$HANDSHAKE_TIMEOUT" "$key-gone"
		lap gone
		run sh "$DRV/activate.sh" "$DOMID"
		lap activate
		wait_long "$HANDSHAKE_TIMEOUT" both_connected "$DOMID" || \
			fail "cycle $i: not Connected after ${HANDSHAKE_TIMEOUT}s: $(states "$DOMID")"
		lap connect
		selftest_answer "ring/cycle-$i" "$DEVID" "$CHECK_DEPTH" $((HANDSHAKE_TIMEOUT + bound + 30)) || \
			fail "guest: $res"
		lap selftest
		echo "XBGEN-CYCLE $i$laps"
		i=$((i + 1))
	done
	took=$(( $(centis) - t0 ))
	end_step "$RING_CYCLES cycles in $((took / 100)).$((took % 100 / 10)) s"

	step ring/counters
	# A grant the backend still mapped when the frontend ended it is freed
	# by a timer, once a second: give the counters a few seconds to settle.
	tries=10
	while :; do
		all_counters
		diff=$(same_counts "$before" "$counts") && break
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || break
		sleep 1
	done
	echo "XBGEN-COUNTERS after $counts"
	[ -z "$diff" ] || fail "after $RING_CYCLES connect/close cycles: $diff"
	end_step "back where they started after $RING_CYCLES cycles"
}

# buffer_step SIZE:N: N calls, each with a buffer of SIZE bytes, a ring's
# worth (up to 16) in flight: checked byte for byte by the tree's self-test.
buffer_step() {
	size=${1%:*} n=${1#*:}
	depth=$RING_SLOTS; [ "$depth" -gt 16 ] && depth=16
	step "ring/buffer-$size"
	ring_selftest "ring/buffer-$size" "$DEVID" "$n" "$depth" "$size" || fail "guest: $res"
	end_step "$figures"
}

ring_stage() {
	for depth in $DEPTHS; do
		selftest_step "ring/selftest-$depth" "$DEVID" "$REQUESTS" "$depth"
	done
	if [ "$SELFTEST" = 1 ]; then
		for run in $BUFFER_RUNS; do buffer_step "$run"; done
	fi
	[ "$RING_CYCLES" -gt 0 ] && ring_cycles
}
