#!/bin/sh
# shellcheck disable=SC2119,SC2153 # end_step takes optional words; config sets CYCLES
# PID 1 of dom0 in the xbgen e2e initramfs: bring up the Xen toolstack, run the
# scenario, report on the console and leave QEMU through isa-debug-exit.
export PATH=/bin:/usr/bin:/usr/lib/xen-4.17/bin
# shellcheck source=/dev/null
. /xbgen/config
# shellcheck source=lib.sh
. /xbgen/lib.sh

# shellcheck disable=SC2034 # used by lib.sh
KERNEL_BAD='WARNING:|BUG:|Oops|Call Trace:|general protection fault|Kernel panic|segfault at|traps: '
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
	for m in xen-evtchn xen-privcmd xenfs xen-gntdev xen-gntalloc; do
		run insmod /lib/modules/$m.ko
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
# every write in order: states that last less than one poll are not lost.
start_watcher() {
	xenstore-watch /local/domain | {
		seen=0
		while read -r _; do
			lines=$(wc -l < "$TRACE")
			[ "$lines" -gt "$seen" ] || continue
			tail -n +$((seen + 1)) "$TRACE" | head -n $((lines - seen)) | state_events
			seen=$lines
		done
	} &
	WATCHER=$!
}

# state_events: trace lines in, "XBGEN-STATE <uptime> <side> <path> <value>" out.
state_events() {
	awk -v t="$(now)" -v dev="$DEV" '
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

fe_path() { echo "/local/domain/$1/device/$DEV/$DEVID"; }
be_path() { echo "/local/domain/0/backend/$DEV/$1/$DEVID"; }
state_is() { [ "$(xenstore-read "$1/state" 2>/dev/null)" = "$2" ]; }
both_connected() { state_is "$(fe_path "$1")" 4 && state_is "$(be_path "$1")" 4; }
# write_reply "PATH VALUE": xenstored's reply to the first WRITE of VALUE to PATH.
write_reply() {
	awk -v pat="WRITE ($1)" '
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

# exited PID: the process ended (a zombie counts: ash reaps only in `wait`).
exited() {
	[ ! -e "/proc/$1/stat" ] && return 0
	case "$(cat "/proc/$1/stat" 2>/dev/null)" in *") Z "*) return 0 ;; esac
	return 1
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
		fail "not Connected after ${HANDSHAKE_TIMEOUT}s: frontend=$(xenstore-read "$(fe_path "$domid")/state" 2>&1) backend=$(xenstore-read "$(be_path "$domid")/state" 2>&1)"
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

no_nodes() { ! xenstore-exists "$(fe_path "$1")" && ! xenstore-exists "$(be_path "$1")"; }

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

stage2() {
	PREFIX=stage2
	step stage2/create-guest
	DMESG_STAGE2=$DMESG_MARK
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
	guest_result loaded 90
	end_step
	step stage2/activate
	run sh $DRV/activate.sh "$DOMID"
	end_step
	connect "$DOMID"
	step stage2/log-lines
	guest_result connected 20
	DMESG_MARK=$DMESG_STAGE2
	expect_lines 1 0
	end_step
	step stage2/guest-cannot-write-backend
	guest_result backend-write 20
	reply=$(write_reply "$(be_path "$DOMID")/state $FORGED")
	case "$reply" in
	"ERROR (EACCES"*) ;;
	*) fail "xenstored answered the guest's forged write with '${reply:-nothing}', want EACCES" ;;
	esac
	state_is "$(be_path "$DOMID")" 4 || fail "backend state changed by the guest"
	end_step
	disconnect "$DOMID"
	step stage2/guest-unload
	guest_result unloaded 20
	end_step
	step stage2/destroy
	run xl destroy "$DOMID"
	wait_for 10 guest_gone || fail "domain $DOMID still listed after xl destroy"
	end_step
	unload "$BACK_MOD"
}

guest_gone() { ! xl list "$DOMID" >/dev/null 2>&1; }

main() {
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs dev /dev
	echo "XBGEN-BOOT $(now)"
	boot_toolstack
	start_watcher
	stage1
	[ "$GUEST" = 1 ] && stage2
	finish PASS
}

main
