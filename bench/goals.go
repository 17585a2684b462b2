package main

import (
	"context"
	"fmt"
	"strconv"

	"github.com/clinic/interactions/loadtest"
)

// goal is a ratio the service's speed is held to: an operation through the API,
// alone, against the store work that is its ceiling, alone, both measured in the
// same run, so that whatever else loads the machine weighs on both.
type goal struct {
	// name says what is divided by what.
	name string
	// op is the API phase's operation, base the raw phase's.
	op, base string
	// records is how many records one op reads or writes: a history page holds
	// benchPageSize, as each of the bench's patients has more visits than a page.
	records int
}

// goals are the ratios the bench measures, whichever of their ops the mix runs.
var goals = []goal{
	{name: "create ÷ raw insertOne", op: "create", base: "create", records: 1},
	{name: "read one ÷ raw findOne by _id", op: "get", base: "get", records: 1},
	{name: "history pages/s × " + strconv.Itoa(benchPageSize) + " ÷ raw findOne by _id", op: "history", base: "get", records: benchPageSize},
}

// measureGoals measures the goals whose op the mix runs: each op alone through the
// API, and each ceiling alone in a raw phase, taken from the phases of the mix when
// the mix runs that one op alone, and otherwise in phases of their own, an op's just
// before its ceiling's. It prints those phases' tables, then the ratios. It returns
// the results of the API phases it ran, in one, and the errors of the phases.
func (b *bench) measureGoals(ctx context.Context, data benchData, api, raw loadtest.Result, pid int, pidErr error) (added loadtest.Result, err error) {
	alone, ceiling := map[string]float64{}, map[string]float64{}
	if len(api.Ops) == 1 {
		only := api.Ops[0]
		alone[only.Name] = api.Throughput(only)
		if o, ok := raw.Op(only.Name); ok {
			ceiling[only.Name] = raw.Throughput(o)
		}
	}
	var measured []goal
	for _, g := range goals {
		if b.opts.mix[g.op] == 0 {
			continue
		}
		measured = append(measured, g)
		if _, ok := alone[g.op]; !ok {
			res, err := b.apiPhase(ctx, "API, "+g.op+" alone", map[string]int{g.op: 1}, data, pid, pidErr)
			if err != nil {
				return added, err
			}
			added.Ops = append(added.Ops, res.Ops...)
			alone[g.op] = res.Throughput(res.Ops[0])
		}
		if _, ok := ceiling[g.base]; !ok {
			res, err := b.rawPhase(ctx, "raw, "+g.base+" alone", map[string]int{g.base: 1}, data, pid, pidErr)
			if err != nil {
				return added, err
			}
			ceiling[g.base] = res.Throughput(res.Ops[0])
		}
	}
	if len(measured) == 0 {
		return added, nil
	}
	fmt.Fprintln(b.out, "goals: each op alone through the API ÷ its ceiling alone in the raw phase, both in this run")
	for _, g := range measured {
		fmt.Fprintf(b.out, "%-44s %s\n", g.name, goalRatio(g, alone[g.op], ceiling[g.base]))
	}
	fmt.Fprintln(b.out)
	return added, nil
}

// goalRatio writes the ratio of g from the throughput of its op alone and of its
// ceiling, with both.
func goalRatio(g goal, op, ceiling float64) string {
	ratio := "n/a"
	if ceiling > 0 {
		ratio = strconv.FormatFloat(op*float64(g.records)/ceiling, 'f', 2, 64)
	}
	if g.records == 1 {
		return fmt.Sprintf("%6s  (%s/s ÷ %s/s)", ratio, loadtest.FormatRate(op), loadtest.FormatRate(ceiling))
	}
	return fmt.Sprintf("%6s  (%s pages/s × %d = %s/s ÷ %s/s)", ratio, loadtest.FormatRate(op), g.records,
		loadtest.FormatRate(op*float64(g.records)), loadtest.FormatRate(ceiling))
}
