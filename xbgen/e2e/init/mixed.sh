# shellcheck shell=sh disable=SC2154 # res, figures, key: guests.sh sets them
# The mixed-release stage of an e2e run (see protocol.sh): a guest of each of
# GUEST_RELEASES, each with the frontend built for its own kernel, plugged
# and Connected at the same time as stage 2's guest; then each is
# self-tested (a ring tree), unplugged and destroyed.

other_guests() {
	[ -n "$GUEST_RELEASES" ] || return 0
	others=
	for rel in $GUEST_RELEASES; do
		PREFIX=mixed/$rel
		step "$PREFIX/create-guest"
		new_guest "xbgen-guest-$rel" "/xbgen/guest-$rel"
		d=$NEW_DOMID
		on_domain "$d" guest_result loaded 120
		end_step "domain $d"
		activate "$d"
		connect "$d"
		step "$PREFIX/guest-cannot-write-backend"
		on_domain "$d" guest_result connected 20
		on_domain "$d" guest_result backend-write 20
		refused_write "$d" "$(be_path "$d")"
		end_step
		others="$others $rel:$d"
	done
	step mixed/all-connected
	domids="$DOMID$(echo "$others" | sed 's/[a-z]*://g')"
	for d in $domids; do
		both_connected "$d" || fail "domain $d: $(states "$d")"
	done
	end_step "domains $domids Connected at once"
	for pair in $others; do
		rel=${pair%:*} d=${pair#*:}
		PREFIX=mixed/$rel
		if [ "$SELFTEST" = 1 ]; then
			step "$PREFIX/selftest"
			on_domain "$d" ring_selftest "$PREFIX/selftest" "$DEVID" "$CHECK_REQUESTS" "$CHECK_DEPTH" || \
				fail "guest: $res"
			end_step "$figures"
		fi
		disconnect "$d"
		step "$PREFIX/destroy"
		run xl destroy "$d"
		on_domain "$d" wait_for 10 guest_gone || fail "domain $d still listed after xl destroy"
		end_step
	done
	both_connected "$DOMID" || fail "main guest's device left Connected: $(states "$DOMID")"
}
