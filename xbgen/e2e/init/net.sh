# shellcheck shell=sh
# The vif stage of an e2e run (see protocol.sh): ping the guest over a vif
# (netfront/netback), for comparison with the ring's round trip; one
# XBGEN-PING line with the figures.

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
