// Package remote is the client side of the server's ports: Client runs cluster/client (the
// same client library the simulator's clients run) against real replicas over TCP, and
// Admin asks servers for the operator's commands. kimberlite-cli and the real-process
// tests use it.
//
// Client keeps a connection to every replica (wire.Dialer: the library sends to the
// replica it believes primary and moves on when it hears nothing, and any replica may be
// the one that answers) and runs the library on one goroutine, ticked every 10 ms like a
// replica, with one request in flight at a time (the library's own rule). Given the
// standbys' addresses (NewClientWithStandbys) it connects to them too, and ReadStale asks
// one of them for a stale read (client.ReadStale); requests through the log never go to a
// standby.
//
// Imports allowed: anything but the simulator and the harness.
package remote
