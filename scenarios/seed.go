package scenarios

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSeed accepts the seed forms of DESIGN.md section 7: a decimal u64, 0x-prefixed hex,
// or a 40-hex-digit git commit hash (its first 16 hex digits). Anything else is an error,
// never a silent default: VOPR users paste seeds from CI logs and commit ids from git, and a
// typo must not quietly become seed 0.
func ParseSeed(s string) (uint64, error) {
	const forms = "expected a decimal u64 (42), 0x-prefixed hex (0x2a) or a 40-hex-digit git commit"
	switch {
	case s == "":
		return 0, fmt.Errorf("seed is empty: %s", forms)
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		digits := s[2:]
		if len(digits) == 0 || len(digits) > 16 {
			return 0, fmt.Errorf("seed %q: hex seeds take 1 to 16 digits after 0x; %s", s, forms)
		}
		v, err := strconv.ParseUint(digits, 16, 64)
		if err != nil {
			return 0, fmt.Errorf("seed %q is not valid hex: %s", s, forms)
		}
		return v, nil
	case len(s) == 40 && isHex(s):
		v, err := strconv.ParseUint(s[:16], 16, 64)
		if err != nil {
			return 0, fmt.Errorf("seed %q: %s", s, forms)
		}
		return v, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("seed %q does not parse: %s", s, forms)
	}
	return v, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
