package ops

// StatusWatch is `replica status --watch` and `--wait-healthy`: it follows a replica's
// successive statuses and says which ones are worth a line (a change of Gist: status, role,
// view, isolation, disk full; not op and commit, which move with every request).
type StatusWatch struct {
	last    string
	started bool
}

// Changed reports whether s differs from the previous status observed (the first always
// does).
func (w *StatusWatch) Changed(s ReplicaStatusReport) bool {
	g := s.Gist()
	changed := !w.started || g != w.last
	w.started, w.last = true, g
	return changed
}
