# shellcheck shell=sh disable=SC2154 # res, figures, key: guests.sh sets them
# e2e stage 3 (see protocol.sh) goes on with stage 2's guest and its
# Connected device: what users do to a running device.  The guest takes its
# orders through guests.sh.

# shellcheck disable=SC2153 # DEVID: /xbgen/config
DEVID2=$((DEVID + 1))
fe_gone() { ! xenstore-exists "$(fe_path "$DOMID")"; }
backend_connected_again() { [ "$(log_count "$CONNECT_BACK")" -ge 1 ]; }

guest_do() {
	# The guest may wait twice (insmod's wait for its devices, then its own).
	guest_ask $((2 * HANDSHAKE_TIMEOUT + 30)) "$1"
}

# sysfs_write FILE VALUE: write VALUE to a sysfs FILE, fail the step if refused.
sysfs_write() {
	{ echo "$2" > "$1"; } 2>/tmp/sysfs.err || fail "writing $2 to $1: $(cat /tmp/sysfs.err)"
}

# both_reconnected WHAT: fail the step unless both ends of device DEVID are Connected again.
both_reconnected() {
	wait_for "$HANDSHAKE_TIMEOUT" both_connected "$DOMID" || \
		fail "not Connected ${HANDSHAKE_TIMEOUT}s after $1: $(states "$DOMID")"
}

# backend_gone DEVID: the backend's device for the guest is torn down (a
# driver domain is asked; it fails the step itself when it is not).
backend_gone() {
	if [ "$DRIVER_DOMAIN" = 1 ]; then
		# (its own key: the caller may be waiting on $key)
		KEYN=$((KEYN + 1))
		on_domain "$BDOM" guest_ask 40 "gone$KEYN" be-gone "$DOMID" "$1"
	else
		wait_for 10 be_unregistered "$DOMID" "$1"
	fi
}

# dd_stage3: with the backend in a driver domain, deactivate.sh (run in dom0)
# closes both ends; the driver domain tears its device down; both guests go.
dd_stage3() {
	PREFIX=stage3
	disconnect "$DOMID"
	step stage3/driver-domain-device-gone
	backend_gone "$DEVID"
	end_step
	step stage3/destroy
	run xl destroy "$DOMID"
	wait_for 10 guest_gone || fail "domain $DOMID still listed after xl destroy"
	run xl destroy "$BDOM"
	on_domain "$BDOM" wait_for 10 guest_gone || fail "domain $BDOM still listed after xl destroy"
	end_step
}

stage3() {
	# shellcheck disable=SC2034 # devices.sh reads it
	PREFIX=stage3
	step stage3/frontend-rebind
	guest_do rebind
	both_reconnected "the guest unbound and bound its frontend"
	end_step "${res#PASS }"
	selftest_step ring/selftest-after-frontend-rebind

	step stage3/backend-rebind
	dev=$(be_device "$DOMID")
	[ -e "$dev/driver" ] || fail "$dev is bound to no driver"
	drv=$(basename "$(readlink "$dev/driver")")
	sysfs_write "/sys/bus/xen-backend/drivers/$drv/unbind" "${dev##*/}"
	[ ! -e "$dev/driver" ] || fail "${dev##*/} still bound to $drv after unbind"
	sysfs_write "/sys/bus/xen-backend/drivers/$drv/bind" "${dev##*/}"
	[ -e "$dev/driver" ] || fail "${dev##*/} not bound to $drv after bind"
	both_reconnected "dom0 unbound and bound ${dev##*/} to $drv"
	wait_for 5 backend_connected_again || fail "backend Connected in xenstore but never printed '$CONNECT_BACK' after bind"
	end_step "driver $drv device ${dev##*/}"
	selftest_step ring/selftest-after-backend-rebind

	step stage3/second-device
	run sh "$DRV/activate.sh" "$DOMID" "$DEVID2"
	wait_for "$HANDSHAKE_TIMEOUT" both_connected "$DOMID" "$DEVID2" || \
		fail "device $DEVID2 not Connected after ${HANDSHAKE_TIMEOUT}s: $(states "$DOMID" "$DEVID2")"
	both_connected "$DOMID" || fail "device $DEVID left Connected: $(states "$DOMID")"
	end_step
	selftest_step ring/selftest-second-device "$DEVID2"

	step stage3/deactivate-second
	mark_trace
	run sh "$DRV/deactivate.sh" "$DOMID" "$DEVID2"
	wait_for 10 written "device/$DEV/$DEVID2/state" 6 || fail "device $DEVID2's frontend never wrote Closed (6)"
	wait_for 10 written "backend/$DEV/$DOMID/$DEVID2/state" 6 || fail "device $DEVID2's backend never wrote Closed (6)"
	wait_for 10 no_nodes "$DOMID" "$DEVID2" || fail "device $DEVID2's nodes still present after deactivate"
	wait_for 10 be_unregistered "$DOMID" "$DEVID2" || fail "backend device $(be_device "$DOMID" "$DEVID2") still registered"
	if written "device/$DEV/$DEVID/state" '[0-9]' || written "backend/$DEV/$DOMID/$DEVID/state" '[0-9]' || \
		! both_connected "$DOMID"; then
		fail "device $DEVID left Connected: $(states "$DOMID")"
	fi
	end_step

	# The guest can only rmmod a frontend no device holds: unbind, rmmod, insmod.
	step stage3/frontend-reload
	guest_do reload
	both_reconnected "the guest reloaded its frontend"
	end_step "${res#PASS }"
	selftest_step ring/selftest-after-frontend-reload

	[ "$LIFECYCLE" = 1 ] && lifecycle_stage

	step stage3/destroy
	run xl destroy "$DOMID"
	wait_for 10 guest_gone || fail "domain $DOMID still listed after xl destroy"
	wait_for 10 fe_gone || fail "frontend directory still present after xl destroy"
	wait_for "$HANDSHAKE_TIMEOUT" be_unregistered "$DOMID" || \
		fail "backend device $(be_device "$DOMID") still registered ${HANDSHAKE_TIMEOUT}s after xl destroy"
	if xenstore-exists "$(be_path "$DOMID")"; then left="backend directory left behind"; else left=""; fi
	end_step "$left"

	step stage3/cleanup
	t0=$(centis)
	run sh "$DRV/deactivate.sh" "$DOMID"
	took=$(( $(centis) - t0 ))
	[ "$took" -le 500 ] || fail "deactivate.sh took ${took}0 ms after xl destroy, want at most 5 s"
	no_nodes "$DOMID" || fail "device nodes still present after deactivate.sh"
	be_unregistered "$DOMID" || fail "backend device $(be_device "$DOMID") registered again"
	end_step "deactivate.sh took ${took}0 ms"

	unload_modules "$BACK_MOD"
}
