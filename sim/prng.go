package sim

import (
	"fmt"
	"math/rand/v2"
)

// Stream returns an independent PRNG for one component of a run, derived from the root seed
// and the component's name (for example "network", "disk/2", "clock/0", "workload").
//
// Each stream is a PCG generator whose second seed word is a hash of the name, so streams of
// different components never share state: a component that draws more numbers (because a
// fault was switched on, say) does not reshuffle the draws of any other component.
func Stream(root uint64, name string) *rand.Rand {
	return rand.New(rand.NewPCG(root, hashString(name)))
}

// hashString is FNV-1a 64 followed by a finaliser, so that similar names ("disk/1",
// "disk/2") give unrelated words.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix64(h)
}

// mix64 is the SplitMix64 finaliser: a bijection that spreads every input bit over the word.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Chance reports true with probability p (0 <= p <= 1). p == 0 never draws, so switching a
// fault off does not consume randomness.
func Chance(r *rand.Rand, p float64) bool {
	if p <= 0 {
		return false
	}
	return r.Float64() < p
}

// ExpDuration draws max(min, Exp(mean)): the delay distribution of network paths and disks.
func ExpDuration(r *rand.Rand, min, mean Duration) Duration {
	if mean <= 0 {
		return min
	}
	d := Duration(r.ExpFloat64() * float64(mean))
	if d < min {
		return min
	}
	return d
}

// Probability names an option that must be a probability, for CheckProbabilities.
type Probability struct {
	Name  string
	Value float64
}

// CheckProbabilities returns an error naming the first option outside [0, 1] (NaN
// included), prefixed with the component it belongs to.
func CheckProbabilities(component string, ps ...Probability) error {
	for _, p := range ps {
		if !(p.Value >= 0 && p.Value <= 1) {
			return fmt.Errorf("%s: %s %v: want a probability in [0, 1]", component, p.Name, p.Value)
		}
	}
	return nil
}
