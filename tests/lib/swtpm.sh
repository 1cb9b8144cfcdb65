# SPDX-License-Identifier: GPL-2.0-or-later
# A private software TPM on 127.0.0.1 for one test (source after common.sh).
#   start_swtpm NAME    state in $WORK/NAME; sets TCTI; stopped on exit by PID
#   stop_swtpm NAME
command -v swtpm >/dev/null || skip "swtpm not installed"

start_swtpm() {
	local name=$1 port i
	mkdir -p "$WORK/$name"
	for i in 1 2 3 4 5 6 7 8 9 10; do
		port=$(free_port)
		# The swtpm TCTI always uses port+1 for control.
		python3 -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1',$port+1))" 2>/dev/null && break
	done
	swtpm socket --tpm2 --tpmstate dir="$WORK/$name" \
		--server type=tcp,port="$port",bindaddr=127.0.0.1 \
		--ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
		--flags not-need-init,startup-clear --pid file="$WORK/$name.pid" \
		>"$WORK/$name.log" 2>&1 &
	_pids+=("$!")
	echo "$!" >"$WORK/$name.bgpid"
	TCTI="swtpm:host=127.0.0.1,port=$port"
	export TPM2TOOLS_TCTI=$TCTI
	for i in $(seq 50); do
		tpm2_getcap properties-fixed >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "swtpm did not start: $(cat "$WORK/$name.log")"
}

stop_swtpm() {
	local pid; pid=$(cat "$WORK/$1.bgpid")
	kill "$pid" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null
}
