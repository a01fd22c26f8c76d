# shellcheck shell=sh
# dom0 talking to a guest (e2e init library: see protocol.sh).  Every helper
# talks to domain $DOMID (on_domain names another).  A guest reports under
# /local/domain/<domid>/data/xbgen-<key>: on its own (loaded, connected, ...)
# or when dom0 writes "KEY [COMMAND [ARGS...]]" to its data/xbgen-cmd
# (COMMAND defaults to KEY; every KEY is new: next_key).  guest.sh is the
# other end.

KEYN=0
guest_key() { xenstore-read "/local/domain/$DOMID/data/xbgen-$1" 2>/dev/null; }
guest_has() { [ -n "$(guest_key "$1")" ]; }

# guest_result KEY SECONDS: fail the step unless the guest wrote PASS under KEY.
guest_result() {
	wait_for "$2" guest_has "$1" || fail "guest wrote no '$1' result within $2 s"
	res=$(guest_key "$1")
	case "$res" in PASS*) ;; *) fail "guest: $res" ;; esac
}

# on_domain DOMID CMD...: run CMD (its status) with DOMID naming another guest.
on_domain() {
	saved_domid=$DOMID
	DOMID=$1
	shift
	"$@"
	on_status=$?
	DOMID=$saved_domid
	return $on_status
}

# start_guest [CONFIG...]: create the main guest (its kernel and initramfs
# in /xbgen/guest, its type GUEST_TYPE); it must load its module.  Its domid
# goes to $DOMID.
start_guest() {
	NEW_TYPE=$GUEST_TYPE new_guest "$GUEST_NAME" /xbgen/guest "$@"
	DOMID=$NEW_DOMID
	echo "XBGEN-GUEST-DOMID $DOMID"
	guest_result loaded 90
}

# next_key NAME: a fresh answer key for the guest, in $key.
next_key() { KEYN=$((KEYN + 1)); key="$1$KEYN"; }

# send KEY [COMMAND ARGS...]: have the guest run COMMAND (default KEY).
send() { run xenstore-write "/local/domain/$DOMID/data/xbgen-cmd" "$*"; }

# answer SECONDS KEY: wait for the guest's answer under KEY, into $res;
# returns 1 when none came.
answer() { res=; wait_long "$1" guest_has "$2" && res=$(guest_key "$2"); }

# guest_answer SECONDS KEY: answer, and fail the step unless it is PASS.
guest_answer() {
	answer "$1" "$2" || fail "guest wrote no '$2' result within $1 s"
	case "$res" in PASS*) ;; *) fail "guest: $res; $(states "$DOMID")" ;; esac
}

# guest_ask SECONDS KEY [COMMAND ARGS...]: send, then guest_answer.
guest_ask() {
	secs=$1; shift
	send "$@"
	guest_answer "$secs" "$1"
}

# selftest_bound N: seconds the guest may take for N requests under TCG (one
# in flight runs at 100/s when another VM shares the host's cores).
selftest_bound() { echo $(($1 / 50 + 60)); }

# ring_selftest NAME DEVID N C [SIZE]: the guest runs N requests with C in flight
# through device DEVID's debugfs self-test (guest.sh's selftest).  Its
# figures go to $figures and an XBGEN-SELFTEST line; returns 1 unless it
# passed ($res says why).
ring_selftest() {
	next_key st
	bound=$(selftest_bound "$3")
	send "$key" selftest "$2" "$3" "$4" "$bound" ${5:+"$5"}
	selftest_answer "$1" "$2" "$4" $((bound + 30))
}

# selftest_answer NAME DEVID C SECONDS: the self-test's answer under $key,
# its figures printed (on failure too).
selftest_answer() {
	answer "$4" "$key" || res="FAIL guest wrote no '$key' result within $4 s"
	figures=$(echo "$res" | sed -n 's/.*\(requests=[0-9]* .*per_s=[0-9]*\( bytes=[0-9]* MBps=[0-9]*\)\{0,1\}\).*/\1/p')
	[ -z "$figures" ] || record "XBGEN-SELFTEST $1 devid=$2 depth=$3 $figures"
	case "$res" in PASS*) ;; *) return 1 ;; esac
}
