package vsr

import "vopr/internal/assert"

// Mutation names a bug planted on purpose, to prove that the simulator catches it (the
// harness's "teeth" tests, in the manner of Antithesis's planted bugs). A replica runs a
// mutation only in a binary built with the vopr_mutants build tag; any other binary refuses
// to open a replica with one, so production code cannot run them.
type Mutation int

const (
	MutationNone Mutation = iota
	// MutationCommitWithoutQuorum commits an op on the primary's own prepare_ok alone.
	MutationCommitWithoutQuorum
	// MutationPrepareOKBeforeSync acknowledges a prepare before it is durable.
	MutationPrepareOKBeforeSync
	// MutationDoViewChangeLowestOp picks the do_view_change with the lowest op instead of
	// the highest.
	MutationDoViewChangeLowestOp
	// MutationForgetClientTable forgets the client table when recovering from disk.
	MutationForgetClientTable
	// MutationCommitPastOpAfterSync sets commit_number past op_number after a state sync.
	MutationCommitPastOpAfterSync
	// MutationUpgradeAtHighestRelease upgrades the cluster to the highest release any
	// replica runs instead of the lowest (features before every replica is upgraded).
	MutationUpgradeAtHighestRelease
	// MutationStandbyVotes lets standbys send prepare_ok and the primary count them towards
	// the replication quorum.
	MutationStandbyVotes
	// MutationStandbyReadAtCommitNumber has a standby name its commit_number, not the op it
	// executed, as the op of a stale read's state.
	MutationStandbyReadAtCommitNumber
	// MutationReconfigOldQuorum sizes the primary's replication quorum by the configuration
	// before the last change (a quorum of three of a cluster grown to four commits on two).
	MutationReconfigOldQuorum
	// MutationPrepareAfterReconfig lets a primary go on preparing after the change that
	// ends its epoch, before it has executed it.
	MutationPrepareAfterReconfig
	// MutationStandbyLagStuck has a standby that hears a commit number it has already
	// executed wait for an execution to count itself current: idle, its lag only grows.
	MutationStandbyLagStuck
	// MutationUnsyncedPrimaryLeads has a primary whose clock is unsynchronised keep sending
	// heartbeats with requests queued: it never abdicates, and the cluster stalls for as
	// long as its clock is wrong.
	MutationUnsyncedPrimaryLeads
	// MutationDoViewChangeFromAll has the new primary wait for a do_view_change from every
	// active replica, not a quorum: no view change completes while one replica is down.
	MutationDoViewChangeFromAll
	// MutationRetryUnanswered has a replica drop the retry of a request it executed instead
	// of answering it from its client table: a client whose reply was lost never gets one.
	MutationRetryUnanswered
	// MutationHeartbeatKeepsElection has a backup leave its election timeout running on the
	// primary's commit heartbeats: an idle cluster deposes its healthy primary every second
	// or so.
	MutationHeartbeatKeepsElection
	// MutationReconfigRefusesFirstSlot has a primary refuse every change of active slot 0 as
	// "not an active slot" (a bound off by one).
	MutationReconfigRefusesFirstSlot
	mutationCount
)

var mutationNames = [...]string{"none", "commit_without_quorum", "prepare_ok_before_sync",
	"do_view_change_lowest_op", "forget_client_table", "commit_past_op_after_sync", "upgrade_at_highest_release",
	"standby_votes", "standby_read_at_commit_number", "reconfig_old_quorum", "prepare_after_reconfig",
	"standby_lag_stuck", "unsynced_primary_leads", "do_view_change_from_all",
	"retry_unanswered", "heartbeat_keeps_election", "reconfig_refuses_first_slot"}

func (m Mutation) String() string { return mutationNames[m] }

// Mutations lists every planted bug.
func Mutations() []Mutation {
	var all []Mutation
	for m := MutationNone + 1; m < mutationCount; m++ {
		all = append(all, m)
	}
	return all
}

// MutantsEnabled reports whether this binary was built with the vopr_mutants tag.
func MutantsEnabled() bool { return mutantsEnabled }

func (r *Replica) mutated(m Mutation) bool {
	return mutantsEnabled && r.options.Mutation == m
}

func checkMutation(m Mutation) {
	assert.That(m >= MutationNone && m < mutationCount, "unknown mutation")
	assert.That(m == MutationNone || mutantsEnabled, "a mutation needs a binary built with -tags vopr_mutants")
}
