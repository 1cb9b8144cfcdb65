# SPDX-License-Identifier: GPL-2.0-or-later
# A private moto_server (local AWS KMS/IAM/STS) on 127.0.0.1 for one test.
#   start_moto   sets MOTO_PORT, KMS_URL and the AWS test environment
#   stop_moto    stops it by PID
#   awsl ...     the aws CLI against it
command -v moto_server >/dev/null || skip "moto_server (python3 moto) not installed"
command -v aws >/dev/null || skip "aws CLI not installed"

start_moto() {
	MOTO_PORT=$(free_port)
	moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
	MOTO_PID=$!
	_pids+=("$MOTO_PID")
	KMS_URL=http://127.0.0.1:$MOTO_PORT
	export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
	export AWS_EC2_METADATA_DISABLED=true
	for _ in $(seq 100); do
		curl -s -o /dev/null "$KMS_URL/moto-api/" && return 0
		sleep 0.1
	done
	fail "moto_server did not start: $(tail -5 "$WORK/moto.log")"
}

stop_moto() {
	kill "$MOTO_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$MOTO_PID" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$MOTO_PID" 2>/dev/null
}

awsl() { aws --endpoint-url "$KMS_URL" "$@"; }
