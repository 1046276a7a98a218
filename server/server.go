package server

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"os"

	"vopr/cluster/kv"
	"vopr/cluster/storage"
	"vopr/cluster/storage/osfs"
	"vopr/cluster/vsr"
	"vopr/ops"
	"vopr/server/wire"
)

// Config is what `kimberlite start` is given.
type Config struct {
	Dir       string   // the replica's data directory, formatted by Format
	Addresses []string // every active replica's address, in index order
	// StandbyAddresses are the standbys' addresses: standby k has index len(Addresses)+k
	// (operators know it as vsr.StandbyIDBase+k, the runbook's replica 100 and up).
	StandbyAddresses []string
	Replica          int    // this replica's index: 0..len(Addresses)+len(StandbyAddresses)-1
	ClientAddr       string // optional second port for clients and operators
	// MetricsAddr, if set, serves Prometheus /metrics over HTTP there.
	MetricsAddr string
	// BatchMax is the runbook's max-batch-size (client requests per prepare); 0 keeps the
	// default (vsr.DefaultConfig).
	BatchMax int
	Log      *log.Logger
	// Ready, if set, receives the addresses the server listens on once it does (tests that
	// bind port 0 learn the real ports from it).
	Ready func(replicaAddr, clientAddr, metricsAddr string)
}

// Format is `kimberlite format`: it writes the initial durable state of replica index
// replica, in a cluster of count active replicas and standbys standbys, into dir, which must
// exist and hold no superblock. A standby's index is count+k.
func Format(dir string, cluster uint64, replica, count, standbys int) error {
	return FormatOutside(dir, cluster, replica, count, standbys, 0)
}

// FormatOutside is Format for a cluster whose slots in outside (a bit per index) start
// outside the configuration (vsr.FormatOutside): spares to be added by `cluster reconfig`.
// A replica whose own slot is outside is formatted to join: it waits until a change adds it
// (`kimberlite format --join`). At least one active slot must be a member.
func FormatOutside(dir string, cluster uint64, replica, count, standbys int, outside uint16) error {
	if count >= 1 && count+standbys <= 16 && outside>>uint(count+standbys) != 0 {
		return fmt.Errorf("format: outside slots %#x name a slot beyond the %d formatted", outside, count+standbys)
	}
	if all := uint16(1)<<uint(count) - 1; outside&all == all && outside&(1<<uint(replica)) == 0 {
		// A member (not joining) of a configuration without an active replica.
		return fmt.Errorf("format: every active slot is outside the configuration: at least one must be a member")
	}
	if err := checkFormat(dir, replica, count, standbys); err != nil {
		return err
	}
	return formatDir(dir, func(fs storage.FS, done func(error)) {
		vsr.FormatOutside(fs, cluster, replica, count, standbys, outside, kv.ReleaseBase, done)
	})
}

// FormatJoin is `kimberlite format --join --join-epoch E`: replica index replica formatted
// to join a running cluster whose configuration is of epoch E (vsr.FormatJoin): it takes
// part only in a later epoch that includes it, never in one that counted its slot with the
// promises of the disk it replaces.
func FormatJoin(dir string, cluster uint64, replica, count, standbys int, epoch uint32) error {
	if err := checkFormat(dir, replica, count, standbys); err != nil {
		return err
	}
	return formatDir(dir, func(fs storage.FS, done func(error)) {
		vsr.FormatJoin(fs, cluster, replica, count, standbys, epoch, kv.ReleaseBase, done)
	})
}

// checkFormat checks the counts and the index, and that dir is (or can be made) empty.
func checkFormat(dir string, replica, count, standbys int) error {
	if count < 1 || count > vsr.ReplicasMax || standbys < 0 || standbys > vsr.StandbysMax {
		return fmt.Errorf("format: %d replicas and %d standbys: at most %d replicas and %d standbys",
			count, standbys, vsr.ReplicasMax, vsr.StandbysMax)
	}
	if replica < 0 || replica >= count+standbys {
		return fmt.Errorf("format: replica index %d is out of range (%d replicas, %d standbys)", replica, count, standbys)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) > 0 {
		return fmt.Errorf("format: %s must be an empty directory (%d entries, %v)", dir, len(entries), err)
	}
	return nil
}

// formatDir runs a format on the files of dir.
func formatDir(dir string, format func(fs storage.FS, done func(error))) error {
	fs, err := osfs.New(dir, osfs.Options{})
	if err != nil {
		return err
	}
	defer fs.Close()
	result := errors.New("format did not complete")
	format(fs, func(err error) { result = err })
	fs.RunUntilIdle()
	return result
}

// ReadIdentity opens the storage in dir once, as a restart would, and returns its
// superblock's state: the cluster and replica it belongs to.
func ReadIdentity(dir string) (storage.State, error) {
	fs, err := osfs.New(dir, osfs.Options{})
	if err != nil {
		return storage.State{}, err
	}
	defer fs.Close()
	var state storage.State
	result := errors.New("open did not complete")
	storage.Open(fs, vsr.StorageOptions(fs), func(s *storage.Storage, _ *storage.Recovery, err error) {
		result = err
		if err == nil {
			state = s.State()
		}
	})
	fs.RunUntilIdle()
	return state, result
}

// Server is one running replica process.
type Server struct {
	cfg     Config
	cluster uint64
	count   int      // active replicas
	members []string // every member's address, by index: the actives, then the standbys
	log     *log.Logger
	fs      *osfs.FS
	replica *vsr.Replica
	peers   []*wire.Queue // each peer's send queue; nil at our own index
	// clients maps a client id to its newest connection. Owned by the loop goroutine.
	clients map[uint64]*clientConn
	inbox   chan event
	commits commitTimeline // when the known commit number rose (metrics.go). Owned by the loop.
	// viewChanges is the replica's view changes with their wall time, for `cluster
	// view-changes`. Owned by the loop.
	viewChanges ops.ViewChangeLog
	// assertionFailures is the count in the data directory's AssertionLog at start.
	assertionFailures int
	// stopReason is the replica's status text when it stopped ("stopped: removed from the
	// cluster: ..."), for `replica status`. Owned by the loop.
	stopReason string
}

// InboxMax bounds the events waiting for the loop.
const InboxMax = 4096

// Run starts the replica in cfg.Dir and serves until ctx is done; then it shuts down.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Log == nil {
		cfg.Log = log.New(os.Stderr, "", log.LstdFlags|log.Lmicroseconds)
	}
	unlock, err := LockDir(cfg.Dir)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer unlock()
	state, err := ReadIdentity(cfg.Dir)
	if err != nil {
		return fmt.Errorf("start: %s: %w", cfg.Dir, err)
	}
	if err := checkIdentity(cfg, state); err != nil {
		return fmt.Errorf("start: %s: %w", cfg.Dir, err)
	}
	s := &Server{cfg: cfg, cluster: state.Cluster, count: len(cfg.Addresses), log: cfg.Log,
		members: append(append([]string(nil), cfg.Addresses...), cfg.StandbyAddresses...),
		clients: map[uint64]*clientConn{}, inbox: make(chan event, InboxMax),
		assertionFailures: countAssertionFailures(cfg.Dir)}
	return s.run(ctx)
}

// checkIdentity requires the superblock's replica index, replica count and standby count to
// be the ones the addresses given to start say.
func checkIdentity(cfg Config, state storage.State) error {
	if int(state.Replica) != cfg.Replica || int(state.ReplicaCount) != len(cfg.Addresses) ||
		int(state.StandbyCount) != len(cfg.StandbyAddresses) {
		return fmt.Errorf("holds replica index %d of %d replicas and %d standbys, not index %d of %d --addresses and %d --standby-addresses",
			state.Replica, state.ReplicaCount, state.StandbyCount, cfg.Replica, len(cfg.Addresses), len(cfg.StandbyAddresses))
	}
	return nil
}

func (s *Server) run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.members[s.cfg.Replica])
	if err != nil {
		return err
	}
	var clientLn net.Listener
	if s.cfg.ClientAddr != "" {
		if clientLn, err = net.Listen("tcp", s.cfg.ClientAddr); err != nil {
			_ = ln.Close()
			return err
		}
	}
	if s.fs, err = osfs.New(s.cfg.Dir, osfs.Options{}); err != nil {
		return err
	}
	config := vsr.DefaultConfig()
	if s.cfg.BatchMax != 0 {
		config.BatchMax = s.cfg.BatchMax
	}
	if err := config.Validate(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	s.replica = vsr.Open(vsr.Options{Cluster: s.cluster, ReplicaCount: s.count,
		StandbyCount: len(s.cfg.StandbyAddresses), Replica: s.cfg.Replica,
		Release: kv.ReleaseBase, FS: s.fs, Bus: bus{s}, Clock: newWallClock(), Rand: seededRand(),
		Observer: observer{s}, Config: config})
	netCtx, stopNet := context.WithCancel(ctx)
	defer stopNet()
	metricsAddr, err := s.startMetrics(netCtx)
	if err != nil {
		return err
	}
	s.startPeers(netCtx)
	go s.listen(netCtx, ln, false)
	clientAddr := ""
	if clientLn != nil {
		clientAddr = clientLn.Addr().String()
		go s.listen(netCtx, clientLn, true)
	}
	role := ""
	if s.replica.IsStandby() {
		role = fmt.Sprintf(" (standby %d)", vsr.StandbyIDBase+s.cfg.Replica-s.count)
	}
	s.log.Printf("replica %d%s of cluster %d listening on %s (clients: %s, metrics: %s)", s.cfg.Replica, role,
		s.cluster, ln.Addr(), clientAddr, metricsAddr)
	if s.cfg.Ready != nil {
		s.cfg.Ready(ln.Addr().String(), clientAddr, metricsAddr)
	}
	s.loop(ctx)
	stopNet()
	return s.shutdown()
}

func (s *Server) startPeers(ctx context.Context) {
	s.peers = make([]*wire.Queue, len(s.members))
	for j := range s.members {
		if j == s.cfg.Replica {
			continue
		}
		s.peers[j] = wire.NewQueue()
		go s.runPeer(ctx, j, s.peers[j])
	}
}

// shutdownPollsMax bounds the disk operations run at shutdown (completions may issue more).
const shutdownPollsMax = 1 << 16

// shutdown runs the disk operations already issued to completion and closes the files.
func (s *Server) shutdown() error {
	for i := 0; i < shutdownPollsMax && s.fs.Poll(); i++ {
	}
	s.log.Printf("replica %d: stopped (%d disk operations abandoned)", s.cfg.Replica, s.fs.Pending())
	return s.fs.Close()
}

func seededRand() *rand.Rand {
	var seed [16]byte
	_, _ = crand.Read(seed[:])
	return rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
}
