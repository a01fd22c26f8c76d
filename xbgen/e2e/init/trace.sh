# shellcheck shell=sh
# xenstored's trace (e2e init library: see protocol.sh).  xenstored -T (set
# TRACE before boot_toolstack) records every request and reply in order: the
# state timeline (XBGEN-STATE), "wrote Closed" and a guest's refused write
# are all read from it.
TRACE=/tmp/xenstored.trace

# TRACE_NORM: an awk rule that makes each xenstored 4.18+ trace line look like
# an older one ("io: IN 0x... (d1) DATE TIME WRITE (...)": no "io: " and no
# "(dN)", so that the fields line up for every Xen: $1 IN, $2 conn, $5 WRITE).
# shellcheck disable=SC2016 # awk's own $3 and $0
TRACE_NORM='{ sub(/^io: /, ""); if ($3 ~ /^\(d[0-9]+\)$/) { $3 = ""; $0 = $0 } }'

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
	# shellcheck disable=SC2034 # finish stops it
	WATCHER=$!
}

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

# refused_write DOMID PATH: xenstored refused domain DOMID's forged write to
# PATH/state, which still holds STATE.
refused_write() {
	reply=$(write_reply "$2/state $FORGED")
	case "$reply" in
	"ERROR (EACCES"*) ;;
	*) fail "xenstored answered domain $1's forged write to $2/state with '${reply:-nothing}', want EACCES" ;;
	esac
}
