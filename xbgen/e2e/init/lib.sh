# Shell helpers shared by the dom0 and guest init scripts (busybox ash).
# Every line the harness parses starts with "XBGEN-".

now() {
	read -r up _ < /proc/uptime
	echo "$up"
}

# step NAME: open a step; pass/fail close it.
step() {
	STEP=$1
	echo "XBGEN-STEP $STEP START $(now)"
	DMESG_MARK=$(dmesg | wc -l)
}

pass() { echo "XBGEN-STEP $STEP PASS $(now) $*"; }

# fail REASON: close the step as failed, print diagnostics, stop the run.
fail() {
	echo "XBGEN-STEP $STEP FAIL $(now) $*"
	diagnostics
	finish FAIL
}

# kernel_clean: no Oops/BUG/WARNING/call trace in the kernel log since the step began.
kernel_clean() {
	bad=$(dmesg | tail -n +$((DMESG_MARK + 1)) | grep -E "$KERNEL_BAD" | head -3)
	[ -z "$bad" ] && return 0
	echo "XBGEN-KERNEL-BAD $bad"
	return 1
}

# check_step: fail the step when the kernel complained, otherwise pass it.
end_step() {
	kernel_clean || fail "kernel reported: $(echo "$bad" | head -1)"
	pass "$@"
}

# run CMD...: run a command, fail the step with its output when it fails.
run() {
	out=$("$@" 2>&1)
	rc=$?
	[ -n "$out" ] && echo "$out" | sed 's/^/  | /'
	[ $rc -eq 0 ] || fail "'$*' exited $rc: $(echo "$out" | tail -1)"
}

# centis: uptime in hundredths of a second (an integer the shell can compare).
centis() {
	read -r up _ < /proc/uptime
	frac=${up#*.}
	echo $(( ${up%.*} * 100 + ${frac#0} ))
}

# wait_for SECONDS TEST...: poll TEST every 50 ms until it succeeds or SECONDS
# of uptime have passed (wall time: each poll itself is slow under emulation).
wait_for() {
	deadline=$(( $(centis) + $1 * 100 )); shift
	while ! "$@"; do
		[ "$(centis)" -ge "$deadline" ] && return 1
		usleep 50000
	done
	return 0
}

# wait_long SECONDS TEST...: wait_for, polling every 50 ms at first and then
# less and less often, down to every 0.4-0.8 s: each poll forks, and under
# emulation that takes the CPU from what a long wait waits for.
wait_long() {
	deadline=$(( $(centis) + $1 * 100 )); shift
	pause=50000
	while ! "$@"; do
		[ "$(centis)" -ge "$deadline" ] && return 1
		usleep "$pause"
		[ "$pause" -ge 400000 ] || pause=$((pause * 2))
	done
	return 0
}

# log_count TEXT: occurrences of TEXT in the kernel log since the step began.
log_count() { dmesg | tail -n +$((DMESG_MARK + 1)) | grep -cF "$1"; }

# exited PID: the process ended (a zombie counts: ash reaps only in `wait`).
# (Builtins only: a fork is slow under emulation, and this runs in poll loops.)
exited() {
	{ read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 0
	case "$stat" in *") Z "*) return 0 ;; esac
	return 1
}

# figure NAME "k=v k=v ...": the value of NAME in a self-test or counters line.
figure() {
	for pair in $2; do
		case $pair in "$1"=*) echo "${pair#*=}"; return 0 ;; esac
	done
}

# irq_lines PATTERN: lines of /proc/interrupts whose chip is Xen's (an event
# channel bound to an IRQ), or, with PATTERN, whose action is exactly PATTERN.
irq_lines() {
	if [ -z "$1" ]; then grep -c ' xen-' /proc/interrupts
	else awk -v name="$1" '$NF == name' /proc/interrupts | wc -l
	fi
}

# grant_figures: the grant table's deferred frees (grant-table.c's pr_debug
# lines, enabled by enable_grant_debug): deferred, freed and leaked entries.
grant_figures() {
	dmesg > /tmp/dmesg.grants
	echo "gnt_deferred=$(grep -c 'deferring g\.e\.' /tmp/dmesg.grants)" \
		"gnt_freed=$(grep -c 'freeing g\.e\.' /tmp/dmesg.grants)" \
		"gnt_leaked=$(grep -c 'leaking g\.e\.' /tmp/dmesg.grants)"
}

# enable_grant_debug: debugfs, and the grant table's pr_debug lines (a grant
# still mapped by the other end when it is ended is freed later, by a timer).
enable_grant_debug() {
	mkdir -p /sys/kernel/debug
	grep -q ' /sys/kernel/debug ' /proc/mounts || mount -t debugfs debugfs /sys/kernel/debug
	echo 'file grant-table.c +p' > /sys/kernel/debug/dynamic_debug/control
}
