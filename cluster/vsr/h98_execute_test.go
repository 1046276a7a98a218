package vsr

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"vopr/cluster/kv"
)

// h98's review of the execution of batches (replica_commit.go: executeEntry, recordReply,
// sendBatchEvictions) by a primary, against a model sharing no code with it: sessions named
// by the op that registered them, the lowest op (then client id) evicted from a full table,
// a request of a client's session executed once and only when newer than its last, a request
// of no session (or another one) refused with an eviction, a newer register of a held session
// answered with it, and an eviction told once the batch has run, of a session then gone.
// Every executed request appends its tag to one key: the key's value is the execution log.

type h98Sent struct {
	client  uint64
	command Command
	request uint32
	session uint64 // Commit: the session named
}

type h98Bus struct {
	t    *rapid.T
	sent []h98Sent
}

func (b *h98Bus) SendToReplica(int, []byte) {}
func (b *h98Bus) SendToClient(client uint64, msg []byte) {
	m, err := Decode(msg, 7)
	if err != nil {
		b.t.Fatalf("sent a client a message that does not decode: %v", err)
	}
	if m.Header.Client != client {
		b.t.Fatalf("sent client %d a message for client %d", client, m.Header.Client)
	}
	b.sent = append(b.sent, h98Sent{client: client, command: m.Header.Command, request: m.Header.Request, session: m.Header.Commit})
}

func TestH98ExecutionAgreesWithModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		capacity := rapid.IntRange(1, 3).Draw(t, "capacity")
		bus := &h98Bus{t: t}
		r := &Replica{options: Options{Release: kv.ReleaseBase}, cluster: 7, replica: 0, count: 3, bus: bus,
			status: StatusNormal, machine: kv.New(), clients: newClientTable(capacity)}
		if !r.isPrimary() {
			t.Fatal("replica 0 is not the primary of view 0")
		}
		type msession struct {
			registered uint64
			request    uint32
		}
		sessions := map[uint64]msession{}
		var log string // the model's execution log
		sessionsEver := []uint64{0}
		op := uint64(100)
		batches := rapid.IntRange(1, 12).Draw(t, "batches")
		for b := 0; b < batches; b++ {
			op += uint64(rapid.IntRange(1, 2).Draw(t, "op step"))
			n := rapid.IntRange(1, 5).Draw(t, "entries")
			var entries []batchEntry
			for i := 0; i < n; i++ {
				e := batchEntry{Client: uint64(rapid.IntRange(1, 4).Draw(t, "client")),
					Request: uint32(rapid.IntRange(1, 6).Draw(t, "request"))}
				if rapid.Bool().Draw(t, "register") {
					e.Operation = OperationRegister
				} else {
					e.Operation = OperationKV
					// The client's session mostly, else any session ever opened (a stale one).
					if s, ok := sessions[e.Client]; ok && rapid.IntRange(0, 3).Draw(t, "stale") > 0 {
						e.Session = s.registered
					} else {
						e.Session = rapid.SampledFrom(sessionsEver).Draw(t, "session")
					}
					e.Payload = kv.EncodeOp(kv.Op{Kind: kv.KindAppend, Key: "k", Value: fmt.Sprintf("%d.%d;", e.Client, e.Request)})
				}
				entries = append(entries, e)
			}

			// The model.
			var want []h98Sent
			type gone struct{ client, session uint64 }
			var evicted []gone
			for _, e := range entries {
				s, held := sessions[e.Client]
				switch e.Operation {
				case OperationRegister:
					if held {
						if e.Request > s.request {
							s.request = e.Request
							sessions[e.Client] = s
							want = append(want, h98Sent{e.Client, CommandReply, e.Request, s.registered})
						}
						continue
					}
					if len(sessions) == capacity {
						var oldest uint64
						for c, x := range sessions {
							if oldest == 0 || x.registered < sessions[oldest].registered ||
								(x.registered == sessions[oldest].registered && c < oldest) {
								oldest = c
							}
						}
						evicted = append(evicted, gone{oldest, sessions[oldest].registered})
						delete(sessions, oldest)
					}
					sessions[e.Client] = msession{registered: op, request: e.Request}
					sessionsEver = append(sessionsEver, op)
					want = append(want, h98Sent{e.Client, CommandReply, e.Request, op})
				case OperationKV:
					if !held || s.registered != e.Session {
						want = append(want, h98Sent{e.Client, CommandEviction, 0, e.Session})
						continue
					}
					if e.Request <= s.request {
						continue // executed already
					}
					log += fmt.Sprintf("%d.%d;", e.Client, e.Request)
					s.request = e.Request
					sessions[e.Client] = s
					want = append(want, h98Sent{e.Client, CommandReply, e.Request, s.registered})
				}
			}
			for _, g := range evicted {
				if s, ok := sessions[g.client]; !ok || s.registered != g.session {
					want = append(want, h98Sent{g.client, CommandEviction, 0, g.session})
				}
			}

			// The replica.
			bus.sent = nil
			m, err := Decode(Encode(Header{Command: CommandPrepare, Cluster: 7, Op: op, Release: kv.ReleaseBase},
				encodeBatch(entries)), 7)
			if err != nil {
				t.Fatal(err)
			}
			r.commitMin, r.commitMax, r.op = op-1, op, op
			r.execute(m)

			if !slices.Equal(bus.sent, want) {
				t.Fatalf("op %d, batch %+v:\nsent  %+v\nmodel %+v", op, entries, bus.sent, want)
			}
			if got, _ := r.machine.Get("k"); got != log {
				t.Fatalf("op %d: execution log %q, model %q", op, got, log)
			}
			if len(r.clients.sessions) != len(sessions) {
				t.Fatalf("op %d: %d sessions, model %d", op, len(r.clients.sessions), len(sessions))
			}
			for c, s := range sessions {
				got := r.clients.get(c)
				if got == nil || got.registered != s.registered || got.request != s.request {
					t.Fatalf("op %d: client %d session %+v, model %+v", op, c, got, s)
				}
			}
		}
	})
}
