#!/bin/bash
# Garbage on the local socket and the overlay port is dropped without a
# crash; guests are refused owner-only operations.
. "$(dirname "$0")/lib.sh"
export PATH="$FLUX_BUILD_DIR/t/tools:$PATH"
test_under_flux 2 --conf=access.allow-guest-user=true

sock=$(flux getattr local-uri | sed 's|^local://||')
garbage() {  # send bytes ($1 as python bytes literal) to the local socket
    python3 - "$sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.recv(1)
s.sendall(eval(sys.argv[2]))
s.settimeout(0.5)
try:
    s.recv(100)
except Exception:
    pass
s.close()
PY
}
ok "random bytes on the local socket" garbage "bytes(range(256)) * 64"
ok "bad magic" garbage "b'\\x00\\x01\\x02\\x03\\x00\\x00\\x00\\x10' + b'x' * 16"
ok "huge length" garbage "b'\\xff\\xee\\x00\\x12\\xff\\xff\\xff\\xff'"
ok "well framed, bad PROTO" garbage "b'\\xff\\xee\\x00\\x12\\x00\\x00\\x00\\x06\\x05hello'"
ok "truncated message then close" garbage "b'\\xff\\xee\\x00\\x12\\x00\\x00\\x01\\x00abc'"
ok "broker survives local garbage" flux ping -c 1 broker
output_has "bad framing is logged" 'closing client' flux dmesg

ep=$(flux getattr tbon.endpoint)
ok "raw TCP garbage on the overlay port" python3 -c "
import socket,sys
host, port = '$ep'.replace('tcp://','').rsplit(':',1)
s = socket.create_connection((host, int(port)))
s.sendall(bytes(range(256)) * 16)
s.close()"
ok "ZMTP peer with a bogus identity" zmq-send "$ep" 999 hello world
ok "ZMTP peer claiming rank 1 with a bad PROTO" zmq-send "$ep" 1 topic hex:8e01
ok "ZMTP peer sending one empty frame" zmq-send "$ep" 1 ""
ok "broker survives overlay garbage" flux ping -c 1 broker
ok "rank 1 is still reachable" flux ping -c 1 -r 1 broker
output_has "drops are counted" '"dropped":[1-9]' rpc overlay.stats

# Guests (the nobody user) may look but not touch.
guest() { setpriv --reuid=65534 --regid=65534 --clear-groups env FLUX_URI="$FLUX_URI" PATH="$PATH" "$@"; }
ok "guest can ping" guest flux ping -c 1 broker
ok "guest can getattr" guest flux getattr size
ok "guest can list modules" guest flux module list
exit_code 1 "guest cannot load a module" guest flux module load hello
output_has "...EPERM" 'module.load: permission denied' guest flux module load hello
exit_code 1 "guest cannot set attributes" guest flux setattr log-level 7
output_has "...EPERM" 'permission denied' guest flux setattr log-level 7
exit_code 1 "guest cannot exec" guest flux exec -r 0 true
output_has "...EPERM" 'rexec.exec: permission denied' guest flux exec -r 0 true
exit_code 1 "guest cannot read dmesg" guest flux dmesg
exit_code 1 "guest cannot shut down" guest flux shutdown
ok "instance survived the guest" flux ping -c 1 broker
ok "owner can still do all that" flux module load hello
output_is "guest's requests are tagged with the guest's uid" '{"greeting":"hello, world","rank":0}' guest rpc hello.greet
exit_code 1 "guest cannot crash the module (owner-only method)" guest rpc hello.crash
output_has "...EPERM from the module" '^1: permission denied' guest rpc hello.crash
ok "owner removes it" flux module remove hello
done_testing
