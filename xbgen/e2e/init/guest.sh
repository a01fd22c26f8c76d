# shellcheck shell=sh
# What every guest init sources (e2e init library: see protocol.sh), after
# /xbgen/config: the guest's end of guests.sh.  A guest reports each result
# to dom0 under /local/domain/<domid>/data/xbgen-<key> (and on its console,
# which dom0 prints at the end) and serves dom0's commands.
# shellcheck source=protocol.sh
. /xbgen/protocol.sh
# shellcheck source=wait.sh
. /xbgen/wait.sh
# shellcheck source=kernel.sh
. /xbgen/kernel.sh

report() {
	xenstore-write "data/xbgen-$1" "$2" || echo "XBGEN-GUEST cannot write data/xbgen-$1"
	echo "XBGEN-GUEST $1 $2 $(now)"
}

# idle: the guest is done (dom0 destroys it); keep PID 1 alive meanwhile.
idle() { while :; do sleep 10; done; }

# guest_boot: the first mounts, and the guest's first line.
guest_boot() {
	mount_basics
	echo "XBGEN-GUEST boot $(now)"
}

# check KEY [DETAIL]: PASS unless the kernel complained since boot (then FAIL,
# and status 1).
check() {
	DMESG_MARK=0
	if kernel_clean; then report "$1" "PASS $2"; else report "$1" "FAIL kernel: $bad"; return 1; fi
}

# fe_state [DEVID]: the frontend device's xenbus state, as sysfs names it.
fe_state() { cat "/sys/bus/xen/devices/$DEV-${1:-$DEVID}/state" 2>/dev/null; }
# connected [DEVID]: (a builtin read: it is polled)
connected() {
	{ read -r state < "/sys/bus/xen/devices/$DEV-${1:-$DEVID}/state"; } 2>/dev/null && \
		[ "$state" = Connected ]
}

# selftest KEY DEVID N C SECONDS [SIZE]: N requests with C in flight (each
# with a SIZE-byte buffer, if given) through the device's debugfs self-test,
# bounded by SECONDS; report its figures under KEY.
selftest() {
	file=/sys/kernel/debug/$DEV/$2/selftest
	wait_for 10 test -e "$file" || { report "$1" "FAIL no $file"; return; }
	echo "$3 $4${6:+ $6}" 2>/tmp/selftest.err > "$file" &
	pid=$!
	if ! wait_long "$5" exited "$pid"; then
		grep -E " $DEV\$" /proc/interrupts
		report "$1" "FAIL '$3 $4' still running after $5 s"
		return
	fi
	wait "$pid" || { report "$1" "FAIL writing '$3 $4' to $file: $(cat /tmp/selftest.err)"; return; }
	read -r line < "$file"
	sent=; ok=; bad=; timeouts=
	for pair in $line; do
		case $pair in
		requests=*) sent=${pair#*=} ;;
		ok=*) ok=${pair#*=} ;;
		bad=*) bad=${pair#*=} ;;
		timeouts=*) timeouts=${pair#*=} ;;
		esac
	done
	if [ "$sent/$ok/$bad/$timeouts" = "$3/$3/0/0" ]; then
		check "$1" "$line"
	else
		report "$1" "FAIL want requests=$3 ok=$3 bad=0 timeouts=0, got: $line"
	fi
}

# selftest_across KEY DEVID N C SECONDS: a self-test meant to be cut by a
# save (lifecycle.sh): it answers KEY-running once started; when it ends it
# answers KEY: PASS with its figures if every call was answered or failed
# (ok + bad = requests), none timed out, and the write succeeded or stopped
# for a device not (yet) connected again (ENOTCONN).
selftest_across() {
	file=/sys/kernel/debug/$DEV/$2/selftest
	echo "$3 $4" 2>/tmp/across.err > "$file" &
	pid=$!
	sleep 1
	report "$1-running" "PASS pid $pid"
	if ! wait_long "$5" exited "$pid"; then
		report "$1" "FAIL '$3 $4' still running after $5 s"
		return
	fi
	if wait "$pid"; then err=none; else err=$(cat /tmp/across.err); fi
	read -r line < "$file"
	case $err in
	none) ;;
	*"not connected"*) err=ENOTCONN ;;
	*) report "$1" "FAIL writing '$3 $4' to $file: $err; $line"; return ;;
	esac
	sent=; ok=; bad=; timeouts=
	for pair in $line; do
		case $pair in
		requests=*) sent=${pair#*=} ;;
		ok=*) ok=${pair#*=} ;;
		bad=*) bad=${pair#*=} ;;
		timeouts=*) timeouts=${pair#*=} ;;
		esac
	done
	if [ "$timeouts" = 0 ] && [ $((ok + bad)) = "$sent" ]; then
		check "$1" "write=$err $line"
	else
		report "$1" "FAIL want ok + bad = requests and timeouts=0, got: $line"
	fi
}

# A PV guest's kernel runs /sbin/reboot or /sbin/poweroff when the toolstack
# asks (xl reboot, xl shutdown); busybox's signal PID 1 (TERM, USR2).  Do
# what an init does then: the kernel's own restart or power-off, in which
# xenbus closes each device.
on_reboot() {
	echo "XBGEN-GUEST $1 $(now)"
	"$1" -f
}

# serve_forever: serve_commands, with PID 1 free to take the toolstack's
# reboot and power-off signals (a shell runs traps only between commands).
serve_forever() {
	trap 'on_reboot reboot' TERM
	trap 'on_reboot poweroff' USR2
	serve_commands &
	while :; do wait; done
}

# serve_commands: for each "KEY [COMMAND [ARGS...]]" dom0 writes to
# data/xbgen-cmd, run on_command ARGS... (which the init defines) with $key
# and $cmd set (COMMAND defaults to KEY); it answers under KEY.  A watch wakes us (no
# polling to steal the vCPU).  Never returns.
serve_commands() {
	done_cmd=
	xenstore-watch data/xbgen-cmd | while read -r _; do
		line=$(xenstore-read data/xbgen-cmd 2>/dev/null)
		if [ -z "$line" ] || [ "$line" = "$done_cmd" ]; then
			continue
		fi
		done_cmd=$line
		echo "XBGEN-GUEST command $line $(now)"
		# shellcheck disable=SC2086 # split the command into its words
		set -- $line
		# shellcheck disable=SC2034 # on_command reads them
		key=$1 cmd=${2:-$1}
		shift $(($# < 2 ? $# : 2))
		on_command "$@"
	done
	echo "XBGEN-GUEST xenstore-watch data/xbgen-cmd ended"
	idle
}
