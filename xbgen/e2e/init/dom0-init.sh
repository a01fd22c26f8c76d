#!/bin/sh
# shellcheck disable=SC2119,SC2153 # end_step takes optional words; config sets CYCLES
# PID 1 of dom0 in the xbgen e2e initramfs: bring up the Xen toolstack, run the
# scenario, report on the console and leave QEMU through isa-debug-exit.
# shellcheck source=/dev/null
. /xbgen/config
export PATH="/bin:/usr/bin:$XEN_BIN"
# The generated scripts plug the backend into domain BACKEND_DOMID: dom0 until
# a driver domain runs it (stage 2 with DRIVER_DOMAIN=1).
export BACKEND_DOMID=0
# shellcheck source=lib.sh
. /xbgen/lib.sh

# shellcheck disable=SC2034 # used by lib.sh
# A grant the peer still maps when it is ended is freed later: fine, unless it
# is leaked or never freed (grant-table.c: "leaking g.e.", "g.e. ... still pending").
KERNEL_BAD='WARNING:|BUG:|Oops|Call Trace:|general protection fault|Kernel panic|segfault at|traps: |leaking g\.e\.|g\.e\. 0x[0-9a-f]+ still'
DRV=/xbgen/driver
FE_MOD=/xbgen/driver/${FRONT_MOD}.ko
BE_MOD=/xbgen/driver/${BACK_MOD}.ko
GUEST_NAME=xbgen-guest
GUEST_LOG=/var/log/xen/console/guest-$GUEST_NAME.log
# xenstored's trace (-T) records every request and reply in order: the state
# timeline, "reached Closed" and the guest's refused write are all read from it.
TRACE=/tmp/xenstored.trace

# finish PASS|FAIL: print the result and stop QEMU with a status that carries it.
finish() {
	[ -n "$WATCHER" ] && kill "$WATCHER" 2>/dev/null
	if [ -f "$GUEST_LOG" ]; then
		sleep 0.2
		sed 's/^/[guest] /' "$GUEST_LOG"
	fi
	# the other guests' consoles: driver domain, guests of other releases
	for log in /var/log/xen/console/guest-xbgen-*.log; do
		[ -f "$log" ] || continue
		name=${log#*/guest-xbgen-}
		name=${name%.log}
		[ "$name" = guest ] && continue
		sed "s/^/[guest:$name] /" "$log"
	done
	echo "XBGEN-RESULT $1 $(now)"
	if [ "$1" = PASS ]; then code='\020'; else code='\040'; fi
	printf '%b' "$code" | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
	poweroff -f
}

diagnostics() {
	echo "XBGEN-DIAG begin"
	xenstore-ls -fp /local/domain/0/backend 2>&1 | head -40
	xenstore-ls -fp /local/domain/0/device 2>&1 | head -20
	[ -n "$DOMID" ] && xenstore-ls -fp "/local/domain/$DOMID/device" 2>&1 | head -20
	ls /sys/bus/xen-backend/devices
	grep -E " ($DEV|$BACK_MOD)\$" /proc/interrupts
	# Xen's own view of the event channels (pending/masked) goes to the serial log.
	[ "$RING" = 1 ] && xl debug-keys e
	lsmod
	dmesg | tail -25
	echo "XBGEN-DIAG end"
}

boot_toolstack() {
	step dom0/toolstack
	mkdir -p /dev/pts /tmp /run/xen /run/xenstored /var/lib/xenstored /var/lib/xen \
		/var/log/xen/console /run/lock /etc/xen
	mount -t devpts devpts /dev/pts
	: > /etc/xen/xl.conf
	for m in $XEN_MODS; do
		run insmod "/lib/modules/$m.ko"
	done
	run mount -t xenfs xenfs /proc/xen
	export XENSTORED_ROOTDIR=/var/lib/xenstored
	run xenstored --pid-file /run/xen/xenstored.pid -T "$TRACE"
	run xen-init-dom0
	[ "$GUEST" = 1 ] && run xenconsoled --log=guest --log-dir=/var/log/xen/console
	end_step
}

# start_watcher: one XBGEN-STATE line per write of a frontend/backend state key.
# Each watch event reads the new complete lines of xenstored's trace, which holds
# every write in order: states that last less than one poll are not lost.  The
# events that queued meanwhile are in the trace already: they are drained
# unread (every fork counts under emulation, and dom0 has one vCPU).
start_watcher() {
	xenstore-watch /local/domain | {
		seen=0
		while read -r _; do
			# shellcheck disable=SC3045 # busybox ash has read -t
			while read -r -t 0.01 _; do :; done
			lines=$(wc -l < "$TRACE")
			[ "$lines" -gt "$seen" ] || continue
			state_events "$seen" "$lines" < "$TRACE"
			seen=$lines
		done
	} &
	WATCHER=$!
}

# TRACE_NORM: an awk rule that makes each xenstored 4.18+ trace line look like
# an older one ("io: IN 0x... (d1) DATE TIME WRITE (...)": no "io: " and no
# "(dN)", so that the fields line up for every Xen: $1 IN, $2 conn, $5 WRITE).
# shellcheck disable=SC2016 # awk's own $3 and $0
TRACE_NORM='{ sub(/^io: /, ""); if ($3 ~ /^\(d[0-9]+\)$/) { $3 = ""; $0 = $0 } }'

# state_events FROM TO: trace lines FROM+1..TO in, "XBGEN-STATE <uptime> <side>
# <path> <value>" out.
state_events() {
	awk -v from="$1" -v to="$2" -v dev="$DEV" "$TRACE_NORM"'
	BEGIN { getline up < "/proc/uptime"; split(up, u, " "); t = u[1] }
	NR <= from { next }
	NR > to { exit }
	$1 != "IN" || ($5 != "WRITE" && $5 != "RM") { next }
	{
		path = substr($6, 2); value = $7; sub(/\)$/, "", value)
		sub(/^\/local\/domain\/[0-9]+\//, "", path)
		if (path ~ "^backend/" dev "/[0-9]+/[0-9]+") side = "backend"
		else if (path ~ "^device/" dev "/[0-9]+") side = "frontend"
		else next
		if ($5 == "RM") value = "gone"
		else if (path !~ /\/state$/ || value !~ /^[0-9]$/) next
		sub(/\/state$/, "", path)
		print "XBGEN-STATE", t, side, path, value
	}'
}

# fe_path/be_path DOMID [DEVID]: the device's frontend/backend directory.
fe_path() { echo "/local/domain/$1/device/$DEV/${2:-$DEVID}"; }
be_path() { echo "/local/domain/$BACKEND_DOMID/backend/$DEV/$1/${2:-$DEVID}"; }
state_is() { [ "$(xenstore-read "$1/state" 2>/dev/null)" = "$2" ]; }
both_connected() { state_is "$(fe_path "$@")" 4 && state_is "$(be_path "$@")" 4; }
# states DOMID [DEVID]: both state keys, for failure messages.
states() {
	echo "frontend=$(xenstore-read "$(fe_path "$@")/state" 2>&1) backend=$(xenstore-read "$(be_path "$@")/state" 2>&1)"
}
# write_reply "PATH VALUE": xenstored's reply to the first WRITE of VALUE to PATH.
write_reply() {
	awk -v pat="WRITE ($1)" "$TRACE_NORM"'
		index($0, "IN ") == 1 && index($0, pat) { conn = $2; next }
		conn != "" && $1 == "OUT" && $2 == conn { print $5, $6; exit }' "$TRACE"
}

mark_trace() { TRACE_MARK=$(wc -l < "$TRACE"); }
# written RELPATH VALUE: some client wrote VALUE to .../RELPATH since mark_trace.
written() {
	tail -n +$((TRACE_MARK + 1)) "$TRACE" | grep -qE "WRITE \((/local/domain/[0-9]+/)?$1 $2\)"
}

# load MODULE.ko: insmod, bounded (a frontend's init waits for its devices to connect).
load() {
	insmod "$1" > /tmp/insmod.out 2>&1 &
	pid=$!
	wait_for "$HANDSHAKE_TIMEOUT" exited "$pid" || fail "insmod $1 still blocked after ${HANDSHAKE_TIMEOUT}s"
	wait "$pid" || fail "insmod $1 exited $?: $(tail -1 /tmp/insmod.out)"
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

connect() {
	domid=$1
	step "$PREFIX/connect"
	t0=$(now)
	wait_for "$HANDSHAKE_TIMEOUT" both_connected "$domid" || \
		fail "not Connected after ${HANDSHAKE_TIMEOUT}s: $(states "$domid")"
	echo "XBGEN-TIME handshake $PREFIX $(echo "$t0 $(now)" | awk '{printf "%.2f", $2 - $1}')"
	end_step
}

disconnect() {
	domid=$1
	step "$PREFIX/deactivate"
	mark_trace
	run sh $DRV/deactivate.sh "$domid"
	wait_for 10 written "device/$DEV/$DEVID/state" 6 || fail "frontend never wrote Closed (6)"
	wait_for 10 written "backend/$DEV/$domid/$DEVID/state" 6 || fail "backend never wrote Closed (6)"
	wait_for 10 no_nodes "$domid" || fail "device nodes still present after deactivate"
	end_step
}

no_nodes() { ! xenstore-exists "$(fe_path "$@")" && ! xenstore-exists "$(be_path "$@")"; }

unload() {
	step "$PREFIX/rmmod"
	for m in "$@"; do wait_for 10 rmmod "$m" 2>/dev/null || run rmmod "$m"; done
	end_step
}

# one_order ORDER: a full dom0-only lifecycle with modules/activation in ORDER.
one_order() {
	PREFIX="stage1/cycle$CYCLE/$1"
	step "$PREFIX/setup"
	DMESG_CYCLE=$DMESG_MARK
	case "$1" in
	backend-first) load "$BE_MOD"; load "$FE_MOD"; run sh $DRV/activate.sh 0 ;;
	frontend-first) load "$FE_MOD"; load "$BE_MOD"; run sh $DRV/activate.sh 0 ;;
	activate-first) run sh $DRV/activate.sh 0; load "$BE_MOD"; load "$FE_MOD" ;;
	esac
	end_step
	connect 0
	step "$PREFIX/log-lines"
	DMESG_MARK=$DMESG_CYCLE
	expect_lines 1 1
	end_step
	disconnect 0
	unload "$FRONT_MOD" "$BACK_MOD"
}

stage1() {
	CYCLE=1
	while [ $CYCLE -le "$CYCLES" ]; do
		for order in $ORDERS; do one_order "$order"; done
		CYCLE=$((CYCLE + 1))
	done
}

guest_key() { xenstore-read "/local/domain/$DOMID/data/xbgen-$1" 2>/dev/null; }
guest_has() { [ -n "$(guest_key "$1")" ]; }

# guest_result KEY SECONDS: fail the step unless the guest wrote PASS under KEY.
guest_result() {
	wait_for "$2" guest_has "$1" || fail "guest wrote no '$1' result within $2 s"
	res=$(guest_key "$1")
	case "$res" in PASS*) ;; *) fail "guest: $res" ;; esac
}

# on_domain DOMID CMD...: run CMD with DOMID naming another guest (the guest_*
# helpers talk to domain $DOMID).
on_domain() {
	saved_domid=$DOMID
	DOMID=$1
	shift
	"$@"
	DOMID=$saved_domid
}

NEXT_CPU=1
# new_guest NAME DIR [CONFIG...]: xl create a PV guest booting DIR/vmlinuz and
# DIR/initrd.gz, on a physical CPU of its own; its domid goes to $NEW_DOMID.
new_guest() {
	name=$1 dir=$2
	shift 2
	cat > "/tmp/$name.cfg" <<-CFG
		name = "$name"
		type = "pv"
		kernel = "$dir/vmlinuz"
		ramdisk = "$dir/initrd.gz"
		extra = "console=hvc0 ignore_loglevel"
		memory = 192
		vcpus = 1
		cpus = "$NEXT_CPU"
		on_poweroff = "destroy"
		on_crash = "preserve"
		$*
	CFG
	NEXT_CPU=$((NEXT_CPU + 1))
	run xl create "/tmp/$name.cfg"
	NEW_DOMID=$(xl domid "$name")
}

# refused_write DOMID PATH: xenstored refused domain DOMID's forged write to
# PATH/state, which still holds STATE.
refused_write() {
	reply=$(write_reply "$2/state $FORGED")
	case "$reply" in
	"ERROR (EACCES"*) ;;
	*) fail "xenstored answered domain $1's forged write to $2/state with '${reply:-nothing}', want EACCES" ;;
	esac
}

stage2() {
	PREFIX=stage2
	if [ "$DRIVER_DOMAIN" = 1 ]; then
		step stage2/create-driver-domain
		new_guest xbgen-backend /xbgen/backend
		BDOM=$NEW_DOMID
		echo "XBGEN-BACKEND-DOMID $BDOM"
		on_domain "$BDOM" guest_result loaded 90
		export BACKEND_DOMID="$BDOM"
		end_step "domain $BDOM runs $BACK_MOD"
	fi
	step stage2/create-guest
	DMESG_STAGE2=$DMESG_MARK
	[ "$DRIVER_DOMAIN" = 1 ] || load "$BE_MOD"
	vif=
	if [ "$PINGS" -gt 0 ]; then
		run insmod /lib/modules/xen-netback.ko
		vif="vif = [ 'script=/xbgen/vif-hotplug' ]"
	fi
	new_guest "$GUEST_NAME" /xbgen/guest "$vif"
	DOMID=$NEW_DOMID
	echo "XBGEN-GUEST-DOMID $DOMID"
	guest_result loaded 90
	end_step
	step stage2/activate
	run sh $DRV/activate.sh "$DOMID"
	end_step
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

# other_guests: a guest of each of GUEST_RELEASES, each with the frontend built
# for its own kernel, plugged and Connected at the same time as the main
# guest; then each is self-tested (a ring tree), unplugged and destroyed.
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
		step "$PREFIX/activate"
		run sh $DRV/activate.sh "$d"
		end_step
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
			on_domain "$d" ring_selftest "$PREFIX/selftest" "$DEVID" "$CHECK_REQUESTS" "$CHECK_DEPTH"
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

guest_gone() { ! xl list "$DOMID" >/dev/null 2>&1; }

# Stage 3 goes on with stage 2's guest and its Connected device: what users do
# to a running device.  The guest takes its orders from data/xbgen-cmd (one
# command name, written by dom0) and answers under data/xbgen-<command>.
guest_do() {
	# The guest may wait twice (insmod's wait for its devices, then its own).
	guest_ask $((2 * HANDSHAKE_TIMEOUT + 30)) "$1"
}

# guest_ask SECONDS KEY [COMMAND ARGS...]: have the guest run COMMAND (default
# KEY) and fail the step unless it answers PASS under KEY within SECONDS;
# the answer is left in $res.  Every KEY must be new.
guest_ask() {
	secs=$1; shift
	run xenstore-write "/local/domain/$DOMID/data/xbgen-cmd" "$*"
	guest_answer "$secs" "$1"
}

# guest_answer SECONDS KEY: wait for the guest's answer under KEY; PASS or fail.
guest_answer() {
	wait_long "$1" guest_has "$2" || fail "guest wrote no '$2' result within $1 s"
	res=$(guest_key "$2")
	case "$res" in PASS*) ;; *) fail "guest: $res; $(states "$DOMID")" ;; esac
}

# sysfs_write FILE VALUE: write VALUE to a sysfs FILE, fail the step if refused.
sysfs_write() {
	{ echo "$2" > "$1"; } 2>/tmp/sysfs.err || fail "writing $2 to $1: $(cat /tmp/sysfs.err)"
}

# reconnected WHAT: fail the step unless both ends of device DEVID are Connected again.
reconnected() {
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
		wait_for 10 be_unregistered "$1"
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

BE_DEVICES=/sys/bus/xen-backend/devices
DEVID2=$((DEVID + 1))
# be_device DEVID: the backend's device in sysfs; be_unregistered DEVID: it is gone.
be_device() { echo "$BE_DEVICES/$DEV-$DOMID-$1"; }
be_unregistered() { [ ! -e "$(be_device "$1")" ]; }
fe_gone() { ! xenstore-exists "$(fe_path "$DOMID")"; }
backend_connected_again() { [ "$(log_count "$CONNECT_BACK")" -ge 1 ]; }

stage3() {
	PREFIX=stage3
	step stage3/frontend-rebind
	guest_do rebind
	reconnected "the guest unbound and bound its frontend"
	end_step "${res#PASS }"
	selftest_step ring/selftest-after-frontend-rebind

	step stage3/backend-rebind
	dev=$(be_device "$DEVID")
	[ -e "$dev/driver" ] || fail "$dev is bound to no driver"
	drv=$(basename "$(readlink "$dev/driver")")
	sysfs_write "/sys/bus/xen-backend/drivers/$drv/unbind" "${dev##*/}"
	[ ! -e "$dev/driver" ] || fail "${dev##*/} still bound to $drv after unbind"
	sysfs_write "/sys/bus/xen-backend/drivers/$drv/bind" "${dev##*/}"
	[ -e "$dev/driver" ] || fail "${dev##*/} not bound to $drv after bind"
	reconnected "dom0 unbound and bound ${dev##*/} to $drv"
	wait_for 5 backend_connected_again || fail "backend Connected in xenstore but never printed '$CONNECT_BACK' after bind"
	end_step "driver $drv device ${dev##*/}"
	selftest_step ring/selftest-after-backend-rebind

	step stage3/second-device
	run sh $DRV/activate.sh "$DOMID" "$DEVID2"
	wait_for "$HANDSHAKE_TIMEOUT" both_connected "$DOMID" "$DEVID2" || \
		fail "device $DEVID2 not Connected after ${HANDSHAKE_TIMEOUT}s: $(states "$DOMID" "$DEVID2")"
	both_connected "$DOMID" || fail "device $DEVID left Connected: $(states "$DOMID")"
	end_step
	selftest_step ring/selftest-second-device "$DEVID2"

	step stage3/deactivate-second
	mark_trace
	run sh $DRV/deactivate.sh "$DOMID" "$DEVID2"
	wait_for 10 written "device/$DEV/$DEVID2/state" 6 || fail "device $DEVID2's frontend never wrote Closed (6)"
	wait_for 10 written "backend/$DEV/$DOMID/$DEVID2/state" 6 || fail "device $DEVID2's backend never wrote Closed (6)"
	wait_for 10 no_nodes "$DOMID" "$DEVID2" || fail "device $DEVID2's nodes still present after deactivate"
	wait_for 10 be_unregistered "$DEVID2" || fail "backend device $(be_device "$DEVID2") still registered"
	if written "device/$DEV/$DEVID/state" '[0-9]' || written "backend/$DEV/$DOMID/$DEVID/state" '[0-9]' || \
		! both_connected "$DOMID"; then
		fail "device $DEVID left Connected: $(states "$DOMID")"
	fi
	end_step

	# The guest can only rmmod a frontend no device holds: unbind, rmmod, insmod.
	step stage3/frontend-reload
	guest_do reload
	reconnected "the guest reloaded its frontend"
	end_step "${res#PASS }"
	selftest_step ring/selftest-after-frontend-reload

	step stage3/destroy
	run xl destroy "$DOMID"
	wait_for 10 guest_gone || fail "domain $DOMID still listed after xl destroy"
	wait_for 10 fe_gone || fail "frontend directory still present after xl destroy"
	wait_for "$HANDSHAKE_TIMEOUT" be_unregistered "$DEVID" || \
		fail "backend device $(be_device "$DEVID") still registered ${HANDSHAKE_TIMEOUT}s after xl destroy"
	if xenstore-exists "$(be_path "$DOMID")"; then left="backend directory left behind"; else left=""; fi
	end_step "$left"

	step stage3/cleanup
	t0=$(centis)
	run sh $DRV/deactivate.sh "$DOMID"
	took=$(( $(centis) - t0 ))
	[ "$took" -le 500 ] || fail "deactivate.sh took ${took}0 ms after xl destroy, want at most 5 s"
	no_nodes "$DOMID" || fail "device nodes still present after deactivate.sh"
	be_unregistered "$DEVID" || fail "backend device $(be_device "$DEVID") registered again"
	end_step "deactivate.sh took ${took}0 ms"

	unload "$BACK_MOD"
}

# ----------------------------------------------------------------- the data path
# A tree with a ring: the guest runs the frontend's debugfs self-test, the
# device is unplugged and plugged again RING_CYCLES times, and what the
# kernels and Xen hold for it must be back where it started.

# next_key NAME: a fresh answer key for the guest (xenstore data/xbgen-<key>).
next_key() { KEYN=$((KEYN + 1)); key="$1$KEYN"; }

# selftest_bound N: seconds the guest may take for N requests under TCG (one
# in flight runs at 100/s when another VM shares the host's cores).
selftest_bound() { echo $(($1 / 50 + 60)); }

# ring_selftest NAME DEVID N C: inside a step, the guest runs N requests with
# C in flight on device DEVID; its figures go to $figures and the console.
ring_selftest() {
	next_key st
	bound=$(selftest_bound "$3")
	run xenstore-write "/local/domain/$DOMID/data/xbgen-cmd" "$key selftest $2 $3 $4 $bound"
	selftest_answer "$1" "$2" "$4" $((bound + 30))
}

# selftest_answer NAME DEVID C SECONDS: wait for the guest's self-test answer
# under $key; print its figures (on failure too), then pass or fail.
selftest_answer() {
	wait_long "$4" guest_has "$key" || fail "guest wrote no '$key' result within $4 s"
	res=$(guest_key "$key")
	figures=$(echo "$res" | sed -n 's/.*\(requests=[0-9]* .*per_s=[0-9]*\).*/\1/p')
	[ -z "$figures" ] || echo "XBGEN-SELFTEST $1 devid=$2 depth=$3 $figures"
	case "$res" in PASS*) ;; *) fail "guest: $res" ;; esac
}

# selftest_step NAME [DEVID [N [C]]]: one step that runs the self-test (the
# check-sized one by default).
selftest_step() {
	[ "$SELFTEST" = 1 ] || return 0
	step "$1"
	ring_selftest "$1" "${2:-$DEVID}" "${3:-$CHECK_REQUESTS}" "${4:-$CHECK_DEPTH}"
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

# counters: one line of what dom0's kernel, the guest's kernel, the driver
# domain's (dd.*, if any) and Xen hold for event channels, IRQs and grants,
# into $counts.
counters() {
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
	counters
	before=$counts
	echo "XBGEN-COUNTERS before $before"
	n=0; [ "$SELFTEST" = 1 ] && n=$CHECK_REQUESTS
	bound=$(selftest_bound "$n")
	t0=$(centis)
	i=1
	while [ "$i" -le "$RING_CYCLES" ]; do
		# The guest first waits for its device to go, then for it to connect.
		next_key cyc
		run xenstore-write "/local/domain/$DOMID/data/xbgen-cmd" "$key cycle $DEVID $n $CHECK_DEPTH $bound"
		LAP=$(centis) laps=
		run sh $DRV/deactivate.sh "$DOMID"
		lap deactivate
		wait_for 10 no_nodes "$DOMID" || fail "cycle $i: device nodes still present after deactivate"
		backend_gone "$DEVID" || fail "cycle $i: backend device still registered"
		guest_answer "$HANDSHAKE_TIMEOUT" "$key-gone"
		lap gone
		run sh $DRV/activate.sh "$DOMID"
		lap activate
		wait_long "$HANDSHAKE_TIMEOUT" both_connected "$DOMID" || \
			fail "cycle $i: not Connected after ${HANDSHAKE_TIMEOUT}s: $(states "$DOMID")"
		lap connect
		selftest_answer "ring/cycle-$i" "$DEVID" "$CHECK_DEPTH" $((HANDSHAKE_TIMEOUT + bound + 30))
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
		counters
		diff=$(same_counts "$before" "$counts") && break
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || break
		sleep 1
	done
	echo "XBGEN-COUNTERS after $counts"
	[ -z "$diff" ] || fail "after $RING_CYCLES connect/close cycles: $diff"
	end_step "back where they started after $RING_CYCLES cycles"
}

ring_stage() {
	[ "$SELFTEST" = 1 ] && for depth in $DEPTHS; do
		step "ring/selftest-$depth"
		ring_selftest "ring/selftest-$depth" "$DEVID" "$REQUESTS" "$depth"
		end_step "$figures"
	done
	[ "$RING_CYCLES" -gt 0 ] && ring_cycles
}

# net_stage: ping the guest over the vif (netfront/netback), for comparison
# with the ring's round trip; one XBGEN-PING line with the figures.
net_stage() {
	step net/ping
	dev=vif$DOMID.0
	wait_for 30 test -e "/sys/class/net/$dev" || fail "no $dev in dom0"
	run ip addr add "$DOM0_IP/24" dev "$dev"
	run ip link set "$dev" up
	guest_answer 60 net
	wait_for 30 ping -c 1 -W 1 "$GUEST_IP" > /dev/null || fail "$GUEST_IP does not answer"
	ping -q -c "$PINGS" -i 0.05 "$GUEST_IP" > /tmp/ping.out 2>&1 || \
		fail "ping: $(tail -1 /tmp/ping.out)"
	sed 's/^/  | /' /tmp/ping.out
	figures=$(awk -v n="$PINGS" '/round-trip/ {
		split($4, ms, "/")
		printf "count=%d min_us=%d avg_us=%d max_us=%d", n, ms[1] * 1000, ms[2] * 1000, ms[3] * 1000
	}' /tmp/ping.out)
	[ -n "$figures" ] || fail "no round-trip line in ping's output"
	echo "XBGEN-PING $figures"
	end_step "$figures"
}

main() {
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs dev /dev
	echo "XBGEN-BOOT $(now)"
	boot_toolstack
	start_watcher
	[ "$RING" = 1 ] && enable_grant_debug
	stage1
	if [ "$GUEST" = 1 ]; then
		stage2
		other_guests
		[ "$RING" = 1 ] && ring_stage
		[ "$PINGS" -gt 0 ] && net_stage
		if [ "$STAGE3" = 1 ]; then
			if [ "$DRIVER_DOMAIN" = 1 ]; then dd_stage3; else stage3; fi
		fi
	fi
	finish PASS
}

main
