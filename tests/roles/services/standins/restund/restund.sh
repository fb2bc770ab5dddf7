#!/bin/sh
# STAND-IN for Wire's restund image (tests only, never shipped). Reads the restund.conf the role renders and
# runs Debian's coturn `turnserver` with the same listen address, port, realm, zrest secret (coturn's TURN REST
# API secret is the same HMAC-SHA1 scheme) and advertised address. Like restund, it filters no peer addresses
# itself: only the role's relay firewall keeps relaying out of private ranges.
conf=/etc/restund/restund.conf
get() { awk -v k="$1" '$1 == k { print $2; exit }' "$conf"; }
udp=$(get udp_listen)
relay=$(get turn_relay_addr)
public=$(get turn_public_addr)
set -- -n --listening-ip "${udp%:*}" --listening-port "${udp##*:}" --relay-ip "$relay" \
  --realm "$(get realm)" --use-auth-secret --static-auth-secret "$(get zrest_secret)" \
  --no-cli --no-tls --no-dtls --simple-log --log-file stdout --pidfile /tmp/turnserver.pid \
  --allow-loopback-peers --min-port 49152 --max-port 65535
[ -n "$public" ] && set -- "$@" --external-ip "$public/$relay"
exec /usr/bin/turnserver "$@"
