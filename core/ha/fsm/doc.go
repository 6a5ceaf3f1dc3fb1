// Package fsm is the HA pair's state machine: which role (initializing,
// active, standby, faulted) this unit holds, and why.
//
// The machine is pure. It does no I/O, starts no goroutines and never reads
// the clock: every Input carries its own time, and Step returns the Outputs
// (role changes, events for the log, requests to the engine). The engine owns
// the sockets, the timers and the plugins; it feeds heartbeats, ticks, link,
// probe and service results and admin commands in, and calls Advertise to get
// the payload of each outgoing heartbeat.
//
// # Safety: never two actives while heartbeats flow
//
// A unit becomes active in exactly two ways:
//
//  1. Its peer is dead (DET-1, DET-7): nothing was heard on any heartbeat path
//     for failover-trigger-level heartbeat intervals, or no peer was heard at
//     all by the end of the start-up window (ROLE-2).
//  2. Its live peer yields: the peer's latest heartbeat says the peer is not
//     active and carries Yield=true, and that heartbeat acknowledges (Ack,
//     AckBoot) a heartbeat of ours sent after the last one in which we
//     yielded ourselves.
//
// A unit that yields promises not to become active while the peer is alive
// until the peer has acknowledged a later heartbeat without Yield and shows
// itself not active in that acknowledging heartbeat. Heartbeats are ordered
// by (Boot, Seq); older ones still count for path liveness but their content
// is ignored. An active unit never yields; it first steps down.
//
// Three more rules close the races that timeouts open (each was found by
// TestNeverTwoActivesProperty):
//
//   - A unit whose last yield the peer has not acknowledged waits two
//     heartbeat timeouts, not one, before a peer-dead takeover, so that its
//     revocation reaches the peer first.
//   - An active unit that sees an active peer steps down (both do:
//     symmetric, no tie-break needed); the pair re-elects by yielding.
//   - A unit that became active by timeout is unconfirmed until the peer
//     acknowledges one of its active heartbeats. If it hears an eligible
//     standby peer that neither yields to it nor has seen it active, that
//     peer may have timed out at the same moment and be taking over on
//     stale data: it steps down too (ReasonUnconfirmed). An initializing,
//     faulted or forced-standby peer does not count, so a rebooting peer
//     costs nothing.
//
// Handover mode ends when the peer is active, dead or not eligible, or when
// the peer yields back after it has seen us step down.
//
// # Election (who yields to whom)
//
// When neither unit is active, each compares itself with the peer using the
// same total order on data both sides see (better): eligible (standby or
// active, not forced standby, service healthy) > forced active > no
// monitoring disadvantage (DET-3/DET-4) > higher quality (DET-6) > higher
// priority (ROLE-5) > primary designation (ROLE-1) > lower serial number. The
// loser yields. The order is antisymmetric, so with the same data exactly one
// unit yields.
//
// An active unit hands over (steps down and yields to the peer until the
// peer is active) when, in this order: it is forced standby or faulted; the
// peer is forced active; an admin Failover asks for it; the peer sees a
// monitored link or probe that this unit lost (and the peer lost none that
// this unit has); the peer's quality exceeds its own by more than the
// hysteresis; or give-back: the peer is the preferred unit (higher priority,
// or primary with preempt on), its quality is not lower, its bulk sync is
// complete, and it has been a healthy standby for preempt-hold-time.
//
// # Takeover ordering hook
//
// With Config.ConfirmTakeover set, a decision to become active does not
// change the role: Step returns PrepareActive and the machine waits. The
// engine makes the plugins ready (synced sessions installed, see TKO and
// issue item 4) and then steps Ready. On Ready the decision is re-checked
// with what is known then; if it still holds the role becomes active
// (RoleChange), otherwise a takeover-aborted event is returned. If the
// decision stops holding before Ready, the wait is cancelled at once
// (takeover-aborted) and a later Ready is ignored. While waiting the unit
// advertises its old role and does not yield, so the peer cannot take over.
package fsm
