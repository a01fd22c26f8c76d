# shellcheck shell=sh
# The device under test, seen from dom0 (e2e init library: see protocol.sh):
# its xenstore directories and states, its modules, and the steps that plug,
# connect, close and unload it.  Set by /xbgen/config: DEV (device type),
# DEVID, FRONT_MOD, BACK_MOD, HANDSHAKE_TIMEOUT, EXPECT_BACK/EXPECT_FRONT.

# The generated scripts plug the backend into domain BACKEND_DOMID: dom0 until
# a driver domain runs it (stage2.sh).
export BACKEND_DOMID=0
DRV=/xbgen/driver
# shellcheck disable=SC2034 # the stages load them
{
	FE_MOD=/xbgen/driver/${FRONT_MOD}.ko
	BE_MOD=/xbgen/driver/${BACK_MOD}.ko
}
BE_DEVICES=/sys/bus/xen-backend/devices

# fe_path/be_path DOMID [DEVID]: the device's frontend/backend directory.
fe_path() { echo "/local/domain/$1/device/$DEV/${2:-$DEVID}"; }
be_path() { echo "/local/domain/$BACKEND_DOMID/backend/$DEV/$1/${2:-$DEVID}"; }
# state_of DIR: DIR's state key, "gone" when there is none.
state_of() { xenstore-read "$1/state" 2>/dev/null || echo gone; }
state_is() { [ "$(state_of "$1")" = "$2" ]; }
both_connected() { state_is "$(fe_path "$@")" 4 && state_is "$(be_path "$@")" 4; }
# states DOMID [DEVID]: both state keys, for failure messages.
states() { echo "frontend=$(state_of "$(fe_path "$@")") backend=$(state_of "$(be_path "$@")")"; }
no_nodes() { ! xenstore-exists "$(fe_path "$@")" && ! xenstore-exists "$(be_path "$@")"; }
# be_device DOMID [DEVID]: the backend's device in sysfs; be_unregistered: it is gone.
be_device() { echo "$BE_DEVICES/$DEV-$1-${2:-$DEVID}"; }
be_unregistered() { [ ! -e "$(be_device "$@")" ]; }

# load MODULE.ko: insmod, bounded (a frontend's init waits for its devices to connect).
load() {
	insmod "$1" > /tmp/insmod.out 2>&1 &
	pid=$!
	wait_for "$HANDSHAKE_TIMEOUT" exited "$pid" || fail "insmod $1 still blocked after ${HANDSHAKE_TIMEOUT}s"
	wait "$pid" || fail "insmod $1 exited $?: $(tail -1 /tmp/insmod.out)"
}

# remove_module NAME: rmmod, retried for 10 s (a device going away still holds it).
remove_module() { wait_for 10 rmmod "$1" 2>/dev/null || run rmmod "$1"; }

# activate DOMID: a step $PREFIX/activate that plugs the device for domain DOMID.
activate() {
	step "$PREFIX/activate"
	run sh "$DRV/activate.sh" "$1"
	end_step
}

# connect DOMID: a step $PREFIX/connect that waits for both ends to be Connected.
connect() {
	domid=$1
	step "$PREFIX/connect"
	t0=$(now)
	wait_for "$HANDSHAKE_TIMEOUT" both_connected "$domid" || \
		fail "not Connected after ${HANDSHAKE_TIMEOUT}s: $(states "$domid")"
	echo "XBGEN-TIME handshake $PREFIX $(echo "$t0 $(now)" | awk '{printf "%.2f", $2 - $1}')"
	end_step
}

# disconnect DOMID: a step $PREFIX/deactivate that unplugs the device; both
# ends must write Closed (read from xenstored's trace: trace.sh) and go.
disconnect() {
	domid=$1
	step "$PREFIX/deactivate"
	mark_trace
	run sh "$DRV/deactivate.sh" "$domid"
	wait_for 10 written "device/$DEV/$DEVID/state" 6 || fail "frontend never wrote Closed (6)"
	wait_for 10 written "backend/$DEV/$domid/$DEVID/state" 6 || fail "backend never wrote Closed (6)"
	wait_for 10 no_nodes "$domid" || fail "device nodes still present after deactivate"
	end_step
}

# unload_modules NAME...: a step $PREFIX/rmmod that removes the modules NAME...
unload_modules() {
	step "$PREFIX/rmmod"
	for m in "$@"; do remove_module "$m"; done
	end_step
}

# expect_lines N_BACK N_FRONT: the generated log lines appeared since the step began.
expect_lines() {
	dmesg | tail -n +$((DMESG_MARK + 1)) > /tmp/dmesg.step
	old_ifs=$IFS; IFS='|'
	for msg in $EXPECT_BACK $EXPECT_FRONT; do
		want=$(( $(echo "|$EXPECT_BACK|" | grep -cF "|$msg|") * $1 ))
		want=$(( want + $(echo "|$EXPECT_FRONT|" | grep -cF "|$msg|") * $2 ))
		have=$(grep -cF "$msg" /tmp/dmesg.step)
		[ "$have" -ge "$want" ] || { IFS=$old_ifs; fail "log line '$msg' seen $have times, want $want"; }
	done
	IFS=$old_ifs
}
