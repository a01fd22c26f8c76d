# shellcheck shell=sh
# What every dom0 init sources (e2e init library: see protocol.sh), after
# /xbgen/config.  The parts are packed next to it, in /xbgen.
# shellcheck source=protocol.sh
. /xbgen/protocol.sh
# shellcheck source=wait.sh
. /xbgen/wait.sh
# shellcheck source=kernel.sh
. /xbgen/kernel.sh
# shellcheck source=toolstack.sh
. /xbgen/toolstack.sh
# shellcheck source=devices.sh
. /xbgen/devices.sh
# shellcheck source=guests.sh
. /xbgen/guests.sh
