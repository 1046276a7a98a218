package sim

import (
	"encoding/binary"
	"math/rand/v2"

	"vopr/cluster/checksum"
	"vopr/cluster/storage"
)

// EchoActor is the simulator's own workload, for testing and benchmarking the simulated
// world without the database: on ticks it sends checksummed pings to random peers; a node
// with a disk persists each ping (write, then sync) before it answers with a pong. It
// exercises the network (delay, loss, corruption, partitions), the disks (latency, faults,
// crashes) and the clocks (ticks follow each node's drift), and counts what it saw.
type EchoActor struct {
	node  *Node
	net   *Network
	rng   *rand.Rand
	fs    storage.FS
	peers int

	// SendProbability is the chance of a ping per tick.
	SendProbability float64
	Stats           EchoStats

	seq    uint64
	offset int64
}

// EchoStats are what an echo actor observed.
type EchoStats struct {
	PingsSent, PingsReceived, PongsReceived, Persisted, DiskErrors, CorruptDropped uint64
}

const (
	echoPing    = 1
	echoPong    = 2
	echoMsgSize = 1 + 8 + 8 + 16
	// echoLogBytesMax bounds the echo log: pings are written round-robin over it.
	echoLogBytesMax = 256 * storage.SectorSize
)

// NewEchoActor returns the actor for node among peers nodes.
func NewEchoActor(node *Node, net *Network, rng *rand.Rand, peers int) *EchoActor {
	a := &EchoActor{node: node, net: net, rng: rng, peers: peers, SendProbability: 0.5}
	if node.Disk != nil {
		a.fs = node.FS()
		// The log survives restarts; creating it again is expected to fail with ErrExist.
		a.fs.Create("echo.log", func(error) {})
	}
	return a
}

// Tick maybe sends a ping.
func (a *EchoActor) Tick() {
	if a.peers < 2 || !Chance(a.rng, a.SendProbability) {
		return
	}
	to := a.rng.IntN(a.peers - 1)
	if to >= a.node.ID {
		to++
	}
	a.seq++
	a.Stats.PingsSent++
	a.net.Send(a.node.ID, to, echoEncode(echoPing, a.seq, a.node.Clock.Realtime()))
}

// Receive answers pings (after persisting them) and counts pongs.
func (a *EchoActor) Receive(from int, msg []byte) {
	kind, ok := echoDecode(msg)
	if !ok {
		a.Stats.CorruptDropped++
		return
	}
	if kind == echoPong {
		a.Stats.PongsReceived++
		return
	}
	a.Stats.PingsReceived++
	pong := echoEncode(echoPong, binary.LittleEndian.Uint64(msg[1:9]), a.node.Clock.Realtime())
	if a.fs == nil {
		a.net.Send(a.node.ID, from, pong)
		return
	}
	offset := a.offset
	a.offset = (a.offset + storage.SectorSize) % echoLogBytesMax
	a.fs.WriteAt("echo.log", msg, offset, func(err error) {
		if err != nil {
			a.Stats.DiskErrors++
			return
		}
		a.fs.Sync("echo.log", func(err error) {
			if err != nil {
				a.Stats.DiskErrors++
				return
			}
			a.Stats.Persisted++
			a.net.Send(a.node.ID, from, pong)
		})
	})
}

func echoEncode(kind byte, seq uint64, realtime int64) []byte {
	msg := make([]byte, echoMsgSize)
	msg[0] = kind
	binary.LittleEndian.PutUint64(msg[1:], seq)
	binary.LittleEndian.PutUint64(msg[9:], uint64(realtime))
	sum := checksum.Of(msg[:17])
	copy(msg[17:], sum[:])
	return msg
}

func echoDecode(msg []byte) (kind byte, ok bool) {
	if len(msg) != echoMsgSize {
		return 0, false
	}
	if checksum.Of(msg[:17]) != checksum.Sum(msg[17:]) {
		return 0, false
	}
	if msg[0] != echoPing && msg[0] != echoPong {
		return 0, false
	}
	return msg[0], true
}
