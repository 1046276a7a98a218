// Package picture draws a run of the simulator as one self-contained HTML file (vopr replay
// SEED --html FILE): a lane per replica over simulated time with its status, role, view,
// op and commit; the fault periods shaded under each lane (crash, pause, partition, clock
// error, slow or full disk) and instant faults marked (corruption, nemesis actions); the
// clients' operations as a Jepsen-style timeline; the messages of any window on demand; and
// the failure marked where it happened. For a linearizability failure it embeds porcupine's
// own visualisation of the offending key's history, opened from a link.
//
// The file needs no network: the data is JSON inside it and the drawing is inline SVG made
// by an inline script. The package knows nothing of the simulator: scenarios.Picture
// collects a Run while the simulation runs.
//
// Imports allowed: the standard library only.
package picture
