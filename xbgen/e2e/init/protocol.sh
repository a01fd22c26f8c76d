# shellcheck shell=sh
# The e2e init library's line protocol, and the steps that speak it.
#
# The init library (this folder; busybox ash) is a set of sourced parts:
#   protocol.sh  this file: the console lines the host reads, and steps
#   wait.sh      clocks and bounded polls
#   kernel.sh    the kernel's log, IRQs and grants; the first mounts
#   dom0.sh      what every dom0 init sources: the parts above, then
#     toolstack.sh  xenstored, xl, guests' consoles, the end of the run
#     devices.sh    device paths and states, modules, connect and close
#     guests.sh     dom0 asking a guest to do something (data/xbgen-cmd)
#   trace.sh     xenstored's trace: the state watcher, replies, writes
#   stage1.sh stage2.sh mixed.sh stage3.sh lifecycle.sh ring.sh net.sh: one
#                e2e stage each
#   guest.sh     what every guest init sources: answering dom0's commands
# dom0-init.sh and guest-init.sh are the e2e run's PID 1s; the hostile
# frontend test (tests/hostile/) has its own two, on the same library.
#
# --------------------------------------------------------- the line protocol
# Everything the host reads off the serial console is a line that contains
# "XBGEN-" (a kernel line may land in front of it, or in the middle: the host
# takes the fields it knows and ignores whatever follows).  xbgen/e2e/report.py
# parses them (its pattern in brackets); the hostile test's harness reads its
# XBGEN-HOSTILE-* lines.  UPTIME is dom0's /proc/uptime, in seconds.
#
#   XBGEN-BOOT UPTIME                      dom0's init began            [BOOT_RE]
#   XBGEN-STEP NAME START UPTIME           step NAME began (step)       [STEP_RE]
#   XBGEN-STEP NAME PASS UPTIME [DETAIL]   ... and passed (pass, end_step)
#   XBGEN-STEP NAME FAIL UPTIME REASON     ... and failed (fail): the run stops
#   XBGEN-RESULT PASS|FAIL UPTIME          the last line (finish)       [RESULT_RE]
#   XBGEN-STATE UPTIME SIDE PATH VALUE     a frontend/backend state key written, or
#                                          its device's directory removed (VALUE
#                                          "gone"), from xenstored's trace (trace.sh)
#                                                                       [STATE_RE]
#   XBGEN-TIME handshake PREFIX SECONDS    how long a connect step waited
#                                          for both ends (devices.sh)   [TIME_RE]
#   XBGEN-GUEST-DOMID DOMID                the main guest's domain id   [DOMID_RE]
#   XBGEN-SELFTEST NAME devid=N depth=C requests=N ok=N bad=N timeouts=N
#       roundtrip_ns=N per_s=N             a ring self-test's figures
#                                          (guests.sh)                  [SELFTEST_RE]
#   XBGEN-COUNTERS LABEL KEY=N...          what the kernels and Xen hold
#                                          for the device (ring.sh)     [COUNTERS_RE]
#   XBGEN-PING count=N min_us=N avg_us=N max_us=N   (net.sh)            [PING_RE]
# For people, not parsed: XBGEN-DIAG begin|end around diagnostics after a
# failure, XBGEN-KERNEL-BAD, XBGEN-BACKEND-DOMID, XBGEN-CYCLE (ring.sh's laps)
# and the guests' own XBGEN-GUEST lines.
# Two prefixes: "[guest] " (the main guest) and "[guest:NAME] " (any other)
# mark a guest's console, which finish prints at the end [GUEST_LINE]; a
# guest's kernel complaints fail the run as dom0's do.  "  | " marks a
# command's output (run), whose kernel-looking words do not count.
# The hostile test adds XBGEN-HOSTILE-{BOUND,MSG,ERROR,GUEST,KERNEL,RESULT,
# SELFTEST-FAIL} MODE ... and, for issue 15's stages (its contract.sh),
# XBGEN-CONTRACT NAME KEY=VALUE... and XBGEN-CONTRACT-KERNEL NAME LINE
# (record), printed again after XBGEN-HOSTILE-REPLAY.
# QEMU's exit status says PASS or FAIL as well (finish writes to the
# isa-debug-exit port): a run passes only when both say PASS.
# -----------------------------------------------------------------------------

now() {
	read -r up _ < /proc/uptime
	echo "$up"
}

# step NAME: open a step; pass/fail close it.
step() {
	STEP=$1
	echo "XBGEN-STEP $STEP START $(now)"
	# shellcheck disable=SC2034 # kernel.sh reads it
	DMESG_MARK=$(dmesg | wc -l)
}

pass() { echo "XBGEN-STEP $STEP PASS $(now) $*"; }

# fail REASON: close the step as failed, print diagnostics, stop the run.
fail() {
	echo "XBGEN-STEP $STEP FAIL $(now) $*"
	diagnostics
	finish FAIL
}

# end_step [DETAIL]: fail the step when the kernel complained, otherwise pass it.
end_step() {
	# shellcheck disable=SC2154 # kernel_clean sets $bad
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

# record LINE: print a marker line; with RECORD set, keep it there too (for a
# replay when the console is quiet: see toolstack.sh's finish).
record() {
	[ -z "$RECORD" ] || echo "$1" >> "$RECORD"
	echo "$1"
}
