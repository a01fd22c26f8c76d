# shellcheck shell=sh
# e2e stage 2 (see protocol.sh): the frontend in a PV guest (and with
# DRIVER_DOMAIN=1 the backend in a second one); the pair connects, and
# neither guest may write the other end's directory.

# driver_domain: a step that creates the driver domain (/xbgen/backend): it
# loads the backend, and from then on the device is plugged into it.
driver_domain() {
	step stage2/create-driver-domain
	new_guest xbgen-backend /xbgen/backend
	BDOM=$NEW_DOMID
	echo "XBGEN-BACKEND-DOMID $BDOM"
	on_domain "$BDOM" guest_result loaded 90
	export BACKEND_DOMID="$BDOM"
	end_step "domain $BDOM runs $BACK_MOD"
}

stage2() {
	# shellcheck disable=SC2034 # devices.sh reads it
	PREFIX=stage2
	[ "$DRIVER_DOMAIN" = 1 ] && driver_domain
	step stage2/create-guest
	DMESG_STAGE2=$DMESG_MARK
	[ "$DRIVER_DOMAIN" = 1 ] || load "$BE_MOD"
	vif=
	if [ "$PINGS" -gt 0 ]; then
		run insmod /lib/modules/xen-netback.ko
		vif="vif = [ 'script=/xbgen/vif-hotplug' ]"
	fi
	start_guest "$vif"
	end_step
	activate "$DOMID"
	connect "$DOMID"
	step stage2/log-lines
	guest_result connected 20
	if [ "$DRIVER_DOMAIN" = 1 ]; then
		on_domain "$BDOM" guest_ask 40 backend-up be-up "$DOMID"
	else
		DMESG_MARK=$DMESG_STAGE2
		expect_lines 1 0
	fi
	end_step
	step stage2/guest-cannot-write-backend
	guest_result backend-write 20
	refused_write "$DOMID" "$(be_path "$DOMID")"
	state_is "$(be_path "$DOMID")" 4 || fail "backend state changed by the guest"
	end_step
	[ "$DRIVER_DOMAIN" = 1 ] || return 0
	step stage2/driver-domain-cannot-write-frontend
	on_domain "$BDOM" guest_ask 20 frontend-write be-forge "$DOMID"
	refused_write "$BDOM" "$(fe_path "$DOMID")"
	state_is "$(fe_path "$DOMID")" 4 || fail "frontend state changed by the driver domain"
	end_step
}
