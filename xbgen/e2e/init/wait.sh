# shellcheck shell=sh
# Clocks and bounded polls (e2e init library: see protocol.sh).  Under
# emulation every fork is slow: the polls' tests use builtins where they can.

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

# exited PID: the process ended (a zombie counts: ash reaps only in `wait`).
# (Builtins only: this runs in poll loops.)
exited() {
	{ read -r stat < "/proc/$1/stat"; } 2>/dev/null || return 0
	case "$stat" in *") Z "*) return 0 ;; esac
	return 1
}

