package report

// Coverage that gates (issue 10, item 6): a scenario's `coverage` list in the gate config
// names coverage counters (names or patterns: coverage.mark.*, coverage.path.view_change)
// that its batch must reach. Each entry is a sum >= 1 over the batch, checked, printed and
// reported like a threshold, except that a failure names every matching counter the batch
// never reached. A name that matches no counter at all is a config error, as for thresholds.

import (
	"fmt"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"
)

// coveragePrefix starts every coverage counter a scenario reports.
const coveragePrefix = "coverage."

func (p configParser) coverageList(n *yaml.Node, where string) ([]gateThreshold, error) {
	const expected = "a list of coverage counter names or patterns (coverage.mark.*, coverage.path.view_change)"
	n = deref(n)
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 {
		return nil, p.errorf(n, "%s: %s: expected %s", where, describeNode(n), expected)
	}
	var list []gateThreshold
	for i, item := range n.Content {
		at := fmt.Sprintf("%s[%d]", where, i)
		name, err := p.scalar(item, at, "a coverage counter name or pattern")
		if err != nil {
			return nil, err
		}
		if _, err := path.Match(name, ""); err != nil || !strings.HasPrefix(name, coveragePrefix) {
			return nil, p.errorf(item, "%s: %q: expected a coverage counter name or pattern starting with %q "+
				"(vopr swarm prints them; vopr list marks names the marks)", at, name, coveragePrefix)
		}
		list = append(list, gateThreshold{where: at, line: deref(item).Line, counter: name, min: 1, hasMin: true,
			sum: true, required: true})
	}
	return list, nil
}

// label is how a check is printed: a coverage requirement or a threshold.
func (t gateThreshold) label() string {
	if t.required {
		return "coverage"
	}
	return "threshold"
}

// neverReached names the counters a coverage requirement saw at zero over the batch.
func neverReached(observed []observation, seeds int) string {
	var names []string
	for _, o := range observed {
		if o.value == 0 {
			names = append(names, o.counter)
		}
	}
	return fmt.Sprintf("never reached over %d seed(s): %s", seeds, strings.Join(names, ", "))
}
