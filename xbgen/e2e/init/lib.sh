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

# log_count TEXT: occurrences of TEXT in the kernel log since the step began.
log_count() { dmesg | tail -n +$((DMESG_MARK + 1)) | grep -cF "$1"; }
