package assert

import "fmt"

// Failure is the typed panic value of a failed assertion.
type Failure struct {
	Message string
}

func (f *Failure) Error() string { return "assertion failed: " + f.Message }

// That fails with message unless cond holds. The message is a constant string so that a
// passing assertion costs one branch and no allocation.
func That(cond bool, message string) {
	if !cond {
		panic(&Failure{Message: message})
	}
}

// Thatf is That with a formatted message; use it where the values explain the failure. The
// arguments are evaluated even when cond holds, so keep it off the hottest paths.
func Thatf(cond bool, format string, args ...any) {
	if !cond {
		panic(&Failure{Message: fmt.Sprintf(format, args...)})
	}
}

// Unreachable fails unconditionally: the code reached a branch its design rules out.
func Unreachable(message string) {
	panic(&Failure{Message: "unreachable: " + message})
}

// Maybe documents that cond may go either way at this point; it checks nothing. It is the
// negative of an assertion: a reader learns that both outcomes are expected and handled.
func Maybe(cond bool) { _ = cond }

// AsFailure reports whether a recovered panic value is an assertion failure.
func AsFailure(recovered any) (*Failure, bool) {
	f, ok := recovered.(*Failure)
	return f, ok
}
