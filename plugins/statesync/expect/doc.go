// Package expect is the conntrack expectation channel of the state sync
// plugin ("expectations", SYNC-2 ALG/helper state): on the active unit a
// Source follows the kernel's expectation table over ctnetlink (the
// expectations an FTP, SIP, TFTP, H.323 or PPTP helper creates when it
// reads a PASV reply, a PORT command, an SDP body...); on the standby a
// Sink installs them under their master connection, which the conntrack
// channel has installed, so that after a takeover the data connection a
// client opens is accepted as `ct state related` by the new active, and
// NAT'd like its master.
//
// See docs/statesync-channels.md.
package expect
