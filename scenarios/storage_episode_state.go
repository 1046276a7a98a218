package scenarios

import (
	"math/rand/v2"

	"vopr/cluster/storage"
	"vopr/internal/storagemodel"
)

// The durable state, round trip. A replica keeps in the superblock more than its view: commit
// number, configuration epoch and membership, release, boot count, the epoch of its log view,
// standby count, and whether it joined from an empty disk. SaveState's contract is that every
// field it is given comes back from the next Open as given (Commit only raised by a
// checkpoint), and a field the engine writes but does not read back is a replica that forgets,
// at a restart, what it made durable: its membership, that its empty log proves nothing of
// the ops before it joined, how many times it booted. Until now the episode's SaveState
// changed the view alone, and only the view was held to the model. Now each SaveState writes
// every caller-owned field, drawn from the episode's own stream ("storage_episode/state_
// fields", so that the history, crash points and damage of a seed stay as they were), and
// every Open must give back, field by field, the acknowledged state or the one in flight.

// episodeFields returns the caller-owned fields of st (storagemodel.Fields).
func episodeFields(st storage.State) storagemodel.Fields {
	return storagemodel.Fields{Commit: st.Commit, Epoch: st.Epoch, LogEpoch: st.LogEpoch, Release: st.Release,
		Boots: st.Boots, Outside: st.Outside, StandbyCount: st.StandbyCount, JoinedEmpty: st.JoinedEmpty}
}

// drawFields draws the fields of a SaveState from the acknowledged ones, as a replica moves
// them: commit number, epochs, release and boots never back (the log epoch at most to the
// epoch), membership, standby count and the joined-empty flag anything.
func drawFields(r *rand.Rand, cur storagemodel.Fields) *storagemodel.Fields {
	f := storagemodel.Fields{Commit: cur.Commit + r.Uint64N(4), Epoch: cur.Epoch + r.Uint32N(2),
		Release: cur.Release + r.Uint32N(2), Boots: cur.Boots + r.Uint32N(2), Outside: uint16(r.Uint32()),
		StandbyCount: uint8(r.IntN(3)), JoinedEmpty: r.IntN(2) == 0}
	f.LogEpoch = min(f.Epoch, cur.LogEpoch+r.Uint32N(2))
	f.LogEpoch = max(f.LogEpoch, cur.LogEpoch) // SaveState never moves the log view back
	return &f
}

// checkFields holds the recovered state's identity and caller-owned fields to the model: the
// acknowledged ones, or those of the SaveState in flight, or the acknowledged ones with
// Commit raised to the op of the checkpoint in flight (its superblock write may have landed).
func (e *storeEpisode) checkFields(rec *storage.Recovery) {
	got, m := rec.State, e.m
	if got.Cluster != storeEpisodeState.Cluster || got.Replica != storeEpisodeState.Replica ||
		got.ReplicaCount != storeEpisodeState.ReplicaCount || got.LogView != got.View {
		e.fail("recovered cluster %d replica %d of %d, log view %d in view %d; the episode formatted cluster %d replica %d of %d and saves log view = view",
			got.Cluster, got.Replica, got.ReplicaCount, got.LogView, got.View,
			storeEpisodeState.Cluster, storeEpisodeState.Replica, storeEpisodeState.ReplicaCount)
		return
	}
	want := []storagemodel.Fields{m.Fields}
	if m.PendingIs(storagemodel.SaveState) && m.Pending.Fields != nil {
		want = append(want, *m.Pending.Fields)
	}
	if m.PendingCheckpoint() {
		raised := m.Fields
		raised.Commit = max(raised.Commit, m.Pending.Op)
		want = append(want, raised)
	}
	have := episodeFields(got)
	for _, w := range want {
		if have == w {
			e.counters["coverage.storage_episode.state_fields"]++
			return
		}
	}
	e.fail("recovered state %+v, but the engine acknowledged %+v (in flight: %v)", have, m.Fields, m.Pending)
}
