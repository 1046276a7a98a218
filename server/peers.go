package server

import (
	"context"

	"vopr/server/wire"
)

// runPeer keeps replica self's connection to member index (an active replica or a standby) open (wire.Dialer) until ctx is
// done. The peer never writes on it; whatever was queued while it was down is dropped.
func (s *Server) runPeer(ctx context.Context, index int, queue *wire.Queue) {
	addr := s.members[index]
	up := false
	d := &wire.Dialer{Addr: addr, Cluster: s.cluster, Queue: queue,
		Hello: wire.Hello{Kind: wire.KindReplica, Replica: s.cfg.Replica},
		Up: func() {
			s.log.Printf("peer %d (%s): connected", index, addr)
			up = true
		},
		Down: func(err error) {
			if up {
				s.log.Printf("peer %d (%s): down: %v", index, addr, err)
			}
			up = false
			queue.Discard()
		},
	}
	d.Run(ctx)
}
