// Package storagemodel is a model of what the storage engine (cluster/storage) acknowledged:
// a drawn history of the operations a replica issues (appends in op order, superblock
// writes, checkpoints, compactions, truncations of the uncommitted suffix, appends that
// replace an op), and the state those operations leave once acknowledged, with the one
// operation in flight at a crash. The engine's crash-point tests (sim) and the storage_crash
// scenario (scenarios) hold what Open recovers to it. It is written from the engine's
// contract, never from its code, and shares none.
package storagemodel
