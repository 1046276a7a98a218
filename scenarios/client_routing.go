package scenarios

import (
	"fmt"

	"vopr/cluster/vsr"
)

// The client routing check holds every client to how a client finds the primary: a reply
// names its view (and, from a newer epoch, the slots outside the configuration), the
// primary of that view is the member whose turn it is (the view modulo the active members,
// in slot order), and the client's next request goes there first. Its retries then try each
// slot in turn, so a client that routes wrongly still gets answers, only later: a request
// sent to a backup waits for the backup to forward it, and one sent to a replica cut off
// from the primary waits a whole retry period. So no liveness bound sees a misrouted client
// on a healthy network, and a latency bound sees it only where the extra hop happens to
// matter; the first send of each request shows it every time.
//
// The harness keeps its own picture of each client, from what the network carried to and
// from it: the newest epoch a reply named and the slots outside it, and the view of its last
// reply. Only a request's first send after a reply, or after a reconfiguration, is judged:
// a retry moves on by design, and a give-up or an eviction leaves the client where its
// retries took it. A failover's client.Reconfigure tells a client the new count of replicas,
// and the client then looks for the primary from the first slot (its contract): a client
// idle when it is told and still aiming at the slot it knew sends its next request to a
// slot that is no longer a replica, and waits a retry period. Stale reads go to the
// standby the caller names and teach the client nothing.
type clientRouting struct {
	cluster      uint64 // the cluster's id, which every message names
	slots        int    // the slots the clients address (sim.Options.Replicas)
	reconfigured uint64 // the cluster's ClientsReconfigured when last seen
	clients      []clientRoute
	judged       uint64 // first sends judged (coverage)
	replaced     uint64 // replies of a configuration a failover replaced, naming none of the slots (coverage)
}

// clientRoute is the harness's picture of one client.
type clientRoute struct {
	slots   int    // the slots it addresses: a failover's Reconfigure sets 1
	epoch   uint32 // the newest epoch a reply named ...
	outside uint16 // ... and the slots outside it
	expect  int    // the slot its next new request must go to first; -1 while unknown
	request uint32 // the newest request number it sent
	// reconfigured: expect is the first slot because the client was reconfigured, not
	// because of a reply (for the failure's wording).
	reconfigured bool
	// first is the slot of that request's first send, kept while it is not judged: a
	// request sent from the callback of the reply before it leaves before the harness sees
	// that reply (onAnswer judges it then); -1 otherwise.
	first int
}

func newClientRouting(cluster uint64, clients, slots int, outside uint16) clientRouting {
	t := clientRouting{cluster: cluster, slots: slots, clients: make([]clientRoute, clients)}
	for i := range t.clients {
		t.clients[i] = clientRoute{slots: slots, outside: outside, expect: -1, first: -1}
	}
	return t
}

// onSend judges a client's send to slot: "" or the failure. reconfigured is the cluster's
// ClientsReconfigured.
func (t *clientRouting) onSend(reconfigured uint64, client, slot int, msg []byte) string {
	h, ok := t.header(reconfigured, client, msg)
	if !ok || h.Command != vsr.CommandRequest || h.Operation == vsr.OperationReadStale {
		return ""
	}
	st := &t.clients[client]
	if h.Request == st.request {
		st.expect, st.first = -1, -1 // a retry: the client moves on to the next slot
		return ""
	}
	st.request = h.Request
	if st.expect < 0 {
		st.first = slot
		return ""
	}
	expect := st.expect
	st.expect, st.first = -1, -1
	return t.judge(client, h.Request, slot, expect)
}

// onAnswer learns from a message that ended a client's request where its next request
// must go; "" or the failure of a next request already sent (see clientRoute.first).
func (t *clientRouting) onAnswer(reconfigured uint64, client int, msg []byte) string {
	h, ok := t.header(reconfigured, client, msg)
	if !ok {
		return ""
	}
	st := &t.clients[client]
	if h.Command != vsr.CommandReply {
		st.expect, st.first = -1, -1 // an eviction: the client stays where it was
		return ""
	}
	if h.Operation == vsr.OperationReadStale {
		return ""
	}
	// A configuration that leaves none of its slots a member is not one the client
	// addresses: a reply of the configuration a failover replaced, held on the way
	// (swarm_failover_change.go). It says nothing of where the client's slots lead.
	if slots := uint16(1)<<uint(st.slots) - 1; h.Epoch > st.epoch && h.Outside&slots == slots {
		t.replaced++
	} else if h.Epoch > st.epoch {
		st.epoch, st.outside = h.Epoch, h.Outside&slots
	}
	st.expect, st.reconfigured = turnOf(h.View, st.slots, st.outside), false
	if st.first < 0 || st.expect < 0 || st.request <= h.Request {
		return ""
	}
	first, expect := st.first, st.expect
	st.expect, st.first = -1, -1
	return t.judge(client, st.request, first, expect)
}

func (t *clientRouting) judge(client int, request uint32, slot, expect int) string {
	t.judged++
	if slot == expect {
		return ""
	}
	st := &t.clients[client]
	if st.reconfigured {
		return fmt.Sprintf("client c%d sent request %d first to slot %d after a failover reconfigured it to %d slots: "+
			"a reconfigured client looks for the primary from the first slot", client+1, request, slot, st.slots)
	}
	return fmt.Sprintf("client c%d sent request %d first to slot %d, but its last reply named a view whose primary "+
		"is slot %d (%d slots, outside %#x as of epoch %d): a client sends a new request to the primary it learned",
		client+1, request, slot, expect, st.slots, st.outside, st.epoch)
}

// header decodes msg's header, first following a failover's reconfiguration of the clients.
func (t *clientRouting) header(reconfigured uint64, client int, msg []byte) (vsr.Header, bool) {
	if reconfigured != t.reconfigured {
		t.reconfigured = reconfigured
		for i := range t.clients {
			st := &t.clients[i]
			st.slots, st.outside, st.expect, st.first, st.reconfigured = 1, 0, 0, -1, true
		}
	}
	if client < 0 || client >= len(t.clients) || len(msg) < vsr.HeaderSize {
		return vsr.Header{}, false
	}
	h, err := vsr.DecodeHeader(msg[:vsr.HeaderSize], t.cluster)
	return h, err == nil
}

// turnOf is the primary of view among slots with those outside: the members take turns in
// slot order. -1 when no slot is a member.
func turnOf(view uint32, slots int, outside uint16) int {
	members := 0
	for i := 0; i < slots; i++ {
		if outside&(1<<uint(i)) == 0 {
			members++
		}
	}
	if members == 0 {
		return -1
	}
	turn := int(view % uint32(members))
	for i := 0; i < slots; i++ {
		if outside&(1<<uint(i)) != 0 {
			continue
		}
		if turn == 0 {
			return i
		}
		turn--
	}
	return -1
}
