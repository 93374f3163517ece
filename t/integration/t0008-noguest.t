#!/bin/bash
# Without access.allow-guest-user, other users cannot connect at all.
. "$(dirname "$0")/lib.sh"
test_under_flux 1

guest() { setpriv --reuid=65534 --regid=65534 --clear-groups env FLUX_URI="$FLUX_URI" PATH="$PATH" "$@"; }
exit_code 1 "guest cannot connect" guest flux getattr size
output_has "...and is told why" 'Permission denied|Operation not permitted' guest flux getattr size
ok "owner can" flux getattr size
done_testing
