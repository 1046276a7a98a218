package scenarios

import (
	"fmt"

	"vopr/cluster/storage"
	"vopr/sim"
)

// The runbook scenarios' operator actions in the trace: each command and its answer is a
// note of kind "operator" at --log short (a note: never hashed, so logging changes no run).
// Status queries that a scenario polls every tick are noted only when their gist changes.

// logOperator notes a command and its answer.
func logOperator(c *sim.Cluster, command, answer string) {
	c.Trace.Note(sim.LevelShort, -1, "operator", command+" => "+answer, nil)
}

// logPoll notes a status query when its gist differs from the previous answer's. describe
// gives the query's command, gist and answer; it runs only when the trace shows notes (the
// status is polled at every tick, and formatting it when nobody reads it was a cost).
func logPoll(c *sim.Cluster, describe func() (command, gist, answer string)) {
	if !c.Trace.Wants(sim.LevelShort) {
		return // NoteOnChange would note nothing
	}
	command, gist, answer := describe()
	c.NoteOnChange(sim.LevelShort, -1, "operator", command, gist, command+" => "+answer)
}

// answer is an action's result or its error.
func answer(result string, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return result
}

// describeAnswer says what an asynchronous action returned, briefly (a backup is its size,
// not its bytes).
func describeAnswer(v any) string {
	switch v := v.(type) {
	case []byte:
		return fmt.Sprintf("%d bytes", len(v))
	case storage.VerifyReport:
		if len(v.Problems) == 0 {
			return "verify ok"
		}
		return fmt.Sprintf("verify found %d problem(s), the first: %s", len(v.Problems), v.Problems[0].Reason)
	case int64:
		return fmt.Sprintf("%d bytes freed", v)
	case uint64:
		return fmt.Sprintf("restore point op %d", v)
	case struct{}:
		return "done"
	case FailoverResult:
		return fmt.Sprintf("standby %d promoted: epoch %d from op %d (%d log entries above dropped)",
			v.Plan.ID, v.Promote.Epoch, v.Promote.Op, v.Promote.Dropped)
	}
	return fmt.Sprint(v)
}
