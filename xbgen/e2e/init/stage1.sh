# shellcheck shell=sh
# e2e stage 1 (see protocol.sh), in dom0 alone: both modules and the device,
# loaded and plugged in each order of ORDERS, CYCLES times; each round must
# connect, print the generated log lines, close and unload.

# one_order ORDER: a full dom0-only lifecycle with modules/activation in ORDER.
one_order() {
	PREFIX="stage1/cycle$CYCLE/$1"
	step "$PREFIX/setup"
	DMESG_CYCLE=$DMESG_MARK
	case "$1" in
	backend-first) load "$BE_MOD"; load "$FE_MOD"; run sh "$DRV/activate.sh" 0 ;;
	frontend-first) load "$FE_MOD"; load "$BE_MOD"; run sh "$DRV/activate.sh" 0 ;;
	activate-first) run sh "$DRV/activate.sh" 0; load "$BE_MOD"; load "$FE_MOD" ;;
	esac
	end_step
	connect 0
	step "$PREFIX/log-lines"
	DMESG_MARK=$DMESG_CYCLE
	expect_lines 1 1
	end_step
	disconnect 0
	unload_modules "$FRONT_MOD" "$BACK_MOD"
}

stage1() {
	CYCLE=1
	# shellcheck disable=SC2153 # CYCLES: /xbgen/config
	while [ $CYCLE -le "$CYCLES" ]; do
		for order in $ORDERS; do one_order "$order"; done
		CYCLE=$((CYCLE + 1))
	done
}
