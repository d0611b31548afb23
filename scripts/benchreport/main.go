// Command benchreport turns the output of fedsaga's benchmarks (go test
// -bench, see scripts/bench.sh) into a markdown table and a JSON document:
// the machine, the command, every figure (the median of the runs), and the
// ratios the targets of BENCHMARKS.md are stated in, each met or not.
//
//	go run ./scripts/benchreport -in bench-results/raw.txt \
//		-json bench-results/results.json -md bench-results/results.md \
//		-command "go test ./test ..." -temporal "1.29.1" -commit "$(git rev-parse --short HEAD)"
//
// It knows the benchmarks of package test by name:
//
//   - Saga/mode=M/workers=N/kind=K/conc=C, K one of floor, happy,
//     compensation, paced-floor: sagas/s and latency percentiles; the
//     targets compare happy with floor (at conc=1 for latency, at the
//     highest conc for throughput), local with regular mode, and the
//     saga's CPU per saga less its database work with paced-floor's (the
//     floor at the saga's rate); the database work is PostgreSQL's CPU and,
//     when SagaSteps ran, the activities' own (its bench CPU); and, when
//     SagaStepsLoaded/mode=M ran, the p50 ratio the saga's own work allows
//     (the floor's p50 plus the steps' under the floor's load);
//   - Relay/...: events/s;
//   - Federation...: every benchmark whose name holds "batched" is compared
//     with the one where "naive" stands instead (latency ratio), one ending
//     in /graphql with the one ending in /rest (GraphQL ÷ REST ≤ 1.3), with any
//     metric whose unit names queries (queries/page).
//
// Other benchmarks are listed as they are.
package main

import (
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
)

func main() {
	var (
		in       = flag.String("in", "bench-results/raw.txt", "go test -bench output")
		jsonPath = flag.String("json", "", "write the report as JSON here")
		mdPath   = flag.String("md", "", "write the report as markdown here (and print it)")
		command  = flag.String("command", "", "the command that produced the input")
		temporal = flag.String("temporal", "", "the Temporal server version")
		commit   = flag.String("commit", "", "the commit benchmarked")
		date     = flag.String("date", time.Now().UTC().Format(time.RFC3339), "when the benchmarks ran")
	)
	flag.Parse()
	if err := run(*in, *jsonPath, *mdPath, Machine{
		CPU: cpuModel(), NProc: runtime.NumCPU(), Go: runtime.Version(),
		Temporal: *temporal, Commit: *commit, Date: *date,
	}, *command); err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
}

func run(in, jsonPath, mdPath string, m Machine, command string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	benchmarks, err := read(f, in)
	if err != nil {
		return err
	}
	if len(benchmarks) == 0 {
		return fmt.Errorf("%s: no benchmark results", in)
	}
	rep := newReport(m, command, benchmarks)
	if jsonPath != "" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(jsonPath, append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	md := rep.Markdown()
	if mdPath != "" {
		if err := os.WriteFile(mdPath, []byte(md), 0o644); err != nil {
			return err
		}
	}
	fmt.Print(md)
	return nil
}

// Machine is where and what the benchmarks ran.
type Machine struct {
	CPU      string `json:"cpu"`
	NProc    int    `json:"nproc"`
	Go       string `json:"go"`
	Temporal string `json:"temporal_server"`
	Commit   string `json:"commit"`
	Date     string `json:"date"`
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for line := range strings.Lines(string(data)) {
		if key, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return runtime.GOARCH
}

// Benchmark is one benchmark's results across runs (go test -count).
type Benchmark struct {
	Name    string            `json:"name"` // without the Benchmark prefix and GOMAXPROCS suffix
	Runs    int               `json:"runs"`
	Metrics map[string]Metric `json:"metrics"` // by unit, as the benchmark reported it
	keys    map[string]string // sub-benchmark key=value parts
	base    string
}

// Metric is one unit's values across runs.
type Metric struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Values []float64 `json:"values"`
}

// Spread is the largest deviation of a run from the median, relative.
func (m Metric) Spread() float64 {
	if m.Median == 0 {
		return 0
	}
	return max(m.Max-m.Median, m.Median-m.Min) / math.Abs(m.Median)
}

// read parses go test -bench output, in the order the benchmarks ran.
func read(r io.Reader, name string) ([]*Benchmark, error) {
	byName := map[string]*Benchmark{}
	var order []*Benchmark
	br := benchfmt.NewReader(r, name)
	for br.Scan() {
		res, ok := br.Result().(*benchfmt.Result)
		if !ok {
			continue // syntax errors are log lines of -v output
		}
		base, parts := res.Name.Parts()
		full := string(base)
		keys := map[string]string{}
		for _, p := range parts {
			if p[0] != '/' {
				continue // -GOMAXPROCS
			}
			full += string(p)
			if k, v, ok := strings.Cut(string(p[1:]), "="); ok {
				keys[k] = v
			}
		}
		b := byName[full]
		if b == nil {
			b = &Benchmark{Name: full, Metrics: map[string]Metric{}, keys: keys, base: string(base)}
			byName[full] = b
			order = append(order, b)
		}
		b.Runs++
		for _, v := range res.Values {
			unit, value := v.Unit, v.Value
			if v.OrigUnit != "" {
				unit, value = v.OrigUnit, v.OrigValue // as written: ns/op, not sec/op
			}
			m := b.Metrics[unit]
			m.Values = append(m.Values, value)
			b.Metrics[unit] = m
		}
	}
	if err := br.Err(); err != nil {
		return nil, err
	}
	for _, b := range order {
		for unit, m := range b.Metrics {
			sorted := slices.Sorted(slices.Values(m.Values))
			m.Min, m.Max = sorted[0], sorted[len(sorted)-1]
			if n := len(sorted); n%2 == 1 {
				m.Median = sorted[n/2]
			} else {
				m.Median = (sorted[n/2-1] + sorted[n/2]) / 2
			}
			b.Metrics[unit] = m
		}
	}
	return order, nil
}

func (b *Benchmark) value(unit string) (float64, bool) {
	if b == nil {
		return 0, false
	}
	m, ok := b.Metrics[unit]
	return m.Median, ok
}

// Report is what benchreport writes.
type Report struct {
	Machine    Machine      `json:"machine"`
	Command    string       `json:"command"`
	Benchmarks []*Benchmark `json:"benchmarks"`
	Targets    []Target     `json:"targets"`
}

// Target is one of the figures BENCHMARKS.md states a goal for.
type Target struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Goal   string  `json:"goal"`   // "≥ 0.8"
	Status string  `json:"status"` // met, not met, not measured
	Detail string  `json:"detail"` // what the value is made of
}

// Target statuses.
const (
	met         = "met"
	notMet      = "not met"
	notMeasured = "not measured"
)

func newReport(m Machine, command string, benchmarks []*Benchmark) *Report {
	r := &Report{Machine: m, Command: command, Benchmarks: benchmarks}
	r.Targets = r.targets()
	return r
}

// saga finds Saga/mode=M/workers=N/kind=K/conc=C.
func (r *Report) saga(mode, workers, kind, conc string) *Benchmark {
	for _, b := range r.Benchmarks {
		k := b.keys
		if b.base == "Saga" && k["mode"] == mode && k["workers"] == workers && k["kind"] == kind && k["conc"] == conc {
			return b
		}
	}
	return nil
}

// sagaValues lists the values a key takes in the Saga benchmarks, in run
// order (conc: numerically).
func (r *Report) sagaValues(key string) []string {
	var vals []string
	for _, b := range r.Benchmarks {
		if v, ok := b.keys[key]; ok && b.base == "Saga" && !slices.Contains(vals, v) {
			vals = append(vals, v)
		}
	}
	if key == "conc" {
		slices.SortFunc(vals, func(a, b string) int { return cmp.Compare(atoi(a), atoi(b)) })
	}
	return vals
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

func (r *Report) targets() []Target {
	var ts []Target
	concs := r.sagaValues("conc")
	modes, workers := r.sagaValues("mode"), r.sagaValues("workers")
	if len(concs) > 0 {
		// Latency at the lowest concurrency, throughput at the highest.
		low, high := concs[0], concs[len(concs)-1]
		for _, mode := range modes {
			for _, n := range workers {
				where := fmt.Sprintf("%s mode, %s worker process(es)", mode, n)
				saturated, label := r.saga(mode, n, "happy", high), "conc "+high
				if high == low {
					saturated, label = nil, "not run" // no saturation measured
				}
				ts = append(ts, ratio(
					fmt.Sprintf("saga throughput at saturation (%s) ÷ floor's, %s", label, where),
					saturated, r.saga(mode, n, "floor", high), "sagas/s", atLeast(0.8)))
				if paired := r.find("SagaPairedSaturation/mode=" + mode); paired != nil && n == "1" {
					ts = append(ts, alternated(
						fmt.Sprintf("saga throughput at saturation (conc 32) ÷ floor's, the two alternated floor, saga, saga, floor (SagaPairedSaturation), %s", where),
						paired, "throughput-ratio", "sagas/s", "floor-sagas/s", "throughput", "sagas/s", atLeast(0.8)))
					if _, ok := paired.value("code-ratio"); ok {
						ts = append(ts, featureRatio(
							fmt.Sprintf("saga throughput at saturation (conc 32) ÷ that of a floor with the saga's Temporal features (search attributes, summaries, payloads as heavy, start options), alternated (SagaPairedSaturation): fedsaga's own code and database work, %s", where),
							alternated("", paired, "code-ratio", "sagas/s", "features-sagas/s", "throughput", "sagas/s", atLeast(0.8)), paired))
					}
				}
				ts = append(ts, ratio(
					fmt.Sprintf("saga p50 latency (conc %s) ÷ floor's, %s", low, where),
					r.saga(mode, n, "happy", low), r.saga(mode, n, "floor", low), "p50-ms", atMost(1.25)))
				if paired := r.find("SagaPaired/mode=" + mode); paired != nil && n == "1" {
					ts = append(ts, alternatedRatio(
						fmt.Sprintf("saga p50 latency (conc 1) ÷ floor's, the two alternated saga by saga (SagaPaired), %s", where),
						paired, "p50-ratio", "p50-ms", "floor-p50-ms"))
				}
				if fc := r.find("SagaFeatureCost/mode=" + mode); fc != nil && n == "1" {
					ts = append(ts, featureRatio(
						fmt.Sprintf("saga p50 latency (conc 1) ÷ that of a floor with the saga's Temporal features (search attributes, summaries, payloads as heavy, start options), alternated (SagaFeatureCost): fedsaga's own code and database work, %s", where),
						alternatedRatio("", fc, "code-ratio", "saga-p50-ms", "all-p50-ms"), fc))
				}
				if loaded := r.find("SagaStepsLoaded/mode=" + mode); loaded != nil {
					ts = append(ts, latencyBound(
						fmt.Sprintf("saga p50 ÷ floor's (conc %s) that the saga's own database and NATS work allows: the floor's p50 plus SagaStepsLoaded's (the steps while the floor runs), ÷ the floor's, %s", low, where),
						r.saga(mode, n, "floor", low), loaded))
				}
				ts = append(ts, ratio(
					fmt.Sprintf("compensation path throughput (%s) ÷ happy path's, %s", label, where),
					r.saga(mode, n, "compensation", high), saturated, "sagas/s", atLeast(0.7)))
				steps, less := r.find("SagaSteps"), "PostgreSQL's"
				if steps != nil {
					less = "its database work (PostgreSQL's, and the activities' own: SagaSteps)"
					ts = append(ts, throughputBound(
						fmt.Sprintf("throughput ÷ floor's that the CPU allows: the floor's CPU per saga (%s) ÷ that plus the saga's database work, %s", label, where),
						r.saga(mode, n, "floor", high), saturated, steps))
				}
				if paced := r.saga(mode, n, "paced-floor", high); paced != nil {
					ts = append(ts, cpuLessDatabase(
						fmt.Sprintf("saga CPU per saga less %s (%s) ÷ the floor's at the saga's rate, %s", less, label, where),
						saturated, paced, steps, atMost(1.1)))
				}
			}
		}
		for _, n := range workers {
			ts = append(ts, ratio(
				fmt.Sprintf("local mode p50 ÷ regular mode p50 (conc %s), %s worker process(es)", low, n),
				r.saga("local", n, "happy", low), r.saga("regular", n, "happy", low), "p50-ms", atMost(0.5)))
		}
	}
	for _, b := range r.Benchmarks {
		if !strings.HasPrefix(b.base, "Federation") || !strings.Contains(b.Name, "batched") {
			continue
		}
		naive := r.find(strings.Replace(b.Name, "batched", "naive", 1))
		ts = append(ts, ratio(fmt.Sprintf("federation %s: naive ÷ batched latency", b.Name), naive, b, "ns/op", atLeast(10)))
	}
	// A GraphQL page against the REST page of the same selection, over HTTP.
	for _, b := range r.Benchmarks {
		if base, ok := strings.CutSuffix(b.Name, "/graphql"); ok && strings.HasPrefix(b.base, "Federation") {
			ts = append(ts, ratio(fmt.Sprintf("federation %s: GraphQL ÷ REST latency, same selection", base), b, r.find(base+"/rest"), "ns/op", atMost(1.3)))
		}
	}
	relays := 0
	for _, b := range r.Benchmarks {
		if b.base != "Relay" {
			continue
		}
		relays++
		t := Target{Name: "relay events/s, " + strings.TrimPrefix(b.Name, "Relay/"), Goal: "≥ 5000", Status: notMeasured}
		if v, ok := b.value("events/s"); ok {
			t.Value, t.Status = v, status(v >= 5000)
			t.Detail = fmt.Sprintf("%s events/s over %d runs", format(v), b.Runs)
		}
		ts = append(ts, t)
	}
	if relays == 0 {
		ts = append(ts, Target{Name: "relay events/s", Goal: "≥ 5000", Status: notMeasured})
	}
	if !slices.ContainsFunc(r.Benchmarks, func(b *Benchmark) bool { return strings.HasPrefix(b.base, "Federation") }) {
		ts = append(ts, Target{Name: "federation: naive ÷ batched latency", Goal: "≥ 10", Status: notMeasured})
	}
	return ts
}

func (r *Report) find(name string) *Benchmark {
	for _, b := range r.Benchmarks {
		if b.Name == name {
			return b
		}
	}
	return nil
}

type goal struct {
	text string
	ok   func(float64) bool
}

func atLeast(x float64) goal {
	return goal{fmt.Sprintf("≥ %g", x), func(v float64) bool { return v >= x }}
}

func atMost(x float64) goal {
	return goal{fmt.Sprintf("≤ %g", x), func(v float64) bool { return v <= x }}
}

// ratio is the target num ÷ den on one unit's medians.
func ratio(name string, num, den *Benchmark, unit string, g goal) Target {
	t := Target{Name: name, Goal: g.text, Status: notMeasured}
	a, okA := num.value(unit)
	b, okB := den.value(unit)
	if !okA || !okB || b == 0 {
		return t
	}
	t.Value, t.Status = a/b, status(g.ok(a/b))
	if unit == "ns/op" {
		a, b, unit = a/1e6, b/1e6, "ms/op"
	}
	t.Detail = fmt.Sprintf("%s ÷ %s %s", format(a), format(b), unit)
	return t
}

// cpuTotal is a benchmark's CPU per op, every process it measured.
func cpuTotal(b *Benchmark) (float64, bool) {
	if b == nil {
		return 0, false
	}
	var sum float64
	n := 0
	for unit, m := range b.Metrics {
		if strings.HasSuffix(unit, "-cpu-ms/op") {
			sum += m.Median
			n++
		}
	}
	return sum, n > 0
}

// databaseWork is the saga's database work per saga: its PostgreSQL's CPU
// (pg-cpu-ms/op) and, when steps (SagaSteps: the happy path's activities
// without Temporal, in the benchmark process) ran, the activities' own CPU
// and NATS's (its bench-cpu-ms/op). ok is false without the saga's
// PostgreSQL figure.
func databaseWork(saga, steps *Benchmark) (pg, acts float64, ok bool) {
	pg, ok = saga.value("pg-cpu-ms/op")
	if steps != nil {
		acts, _ = steps.value("bench-cpu-ms/op")
	}
	return pg, acts, ok
}

// cpuLessDatabase is the target of the saga's CPU per saga, all processes,
// less its database work (databaseWork), ÷ the floor's CPU per workflow,
// all processes: what fedsaga costs beyond the database work it exists to
// do. The Temporal server's PostgreSQL (server-pg) counts on both sides.
func cpuLessDatabase(name string, saga, floor, steps *Benchmark, g goal) Target {
	t := Target{Name: name, Goal: g.text, Status: notMeasured}
	if saga == nil || floor == nil {
		return t
	}
	a, okA := cpuTotal(saga)
	pg, acts, okPG := databaseWork(saga, steps)
	b, okB := cpuTotal(floor)
	if !okA || !okPG || !okB || b == 0 {
		return t
	}
	v := (a - pg - acts) / b
	t.Value, t.Status = v, status(g.ok(v))
	t.Detail = fmt.Sprintf("(%s − %s) ÷ %s CPU ms/saga", format(a), format(pg), format(b))
	if steps != nil {
		t.Detail = fmt.Sprintf("(%s − %s − %s) ÷ %s CPU ms/saga", format(a), format(pg), format(acts), format(b))
	}
	return t
}

// throughputBound is the highest saga throughput ÷ the floor's that the
// machine's CPU allows, were fedsaga to cost nothing beyond its database
// work: the floor's CPU per workflow at saturation ÷ that plus the saga's
// database work (databaseWork). Below 0.8, the throughput target cannot be
// met here, and the CPU target (cpuLessDatabase) stands in for it.
func throughputBound(name string, floor, saga, steps *Benchmark) Target {
	t := Target{Name: name, Goal: "≥ 0.8 (else the CPU target applies)", Status: notMeasured}
	if saga == nil || floor == nil {
		return t
	}
	f, okF := cpuTotal(floor)
	pg, acts, okPG := databaseWork(saga, steps)
	if !okF || !okPG || f == 0 {
		return t
	}
	v := f / (f + pg + acts)
	t.Value, t.Status = v, status(v >= 0.8)
	t.Detail = fmt.Sprintf("%s ÷ (%s + %s + %s) CPU ms/saga", format(f), format(f), format(pg), format(acts))
	return t
}

// alternatedRatio is a p50 target measured by a benchmark that runs its
// sagas in turn, saga by saga, so that a drift of the machine's pace
// weighs on both sides alike: the median over the runs of each run's ratio
// (the metric ratio), with the two p50s it divides (the metrics saga and
// floor) in the detail.
func alternatedRatio(name string, b *Benchmark, ratio, saga, floor string) Target {
	return alternated(name, b, ratio, saga, floor, "p50", "ms", atMost(1.25))
}

// alternated is a target measured by a benchmark that alternates the saga
// and the floor: the median over the runs of each run's ratio (the metric
// ratio), with what it divides (the metrics saga and floor, a measure in
// unit) in the detail.
func alternated(name string, b *Benchmark, ratio, saga, floor, measure, unit string, g goal) Target {
	t := Target{Name: name, Goal: g.text, Status: notMeasured}
	v, ok := b.value(ratio)
	s, okS := b.value(saga)
	f, okF := b.value(floor)
	if !ok || !okS || !okF {
		return t
	}
	t.Value, t.Status = v, status(g.ok(v))
	t.Detail = fmt.Sprintf("median of the runs' ratios; %s %s ÷ %s %s", measure, format(s), format(f), unit)
	return t
}

// featureRatio is t, named name: the saga's figure ÷ that of a floor
// that carries the saga's Temporal features (BenchmarkSagaFeatureCost's
// p50, BenchmarkSagaPairedSaturation's throughput), which leaves
// fedsaga's own code and database work; the detail adds what the features
// cost the floor (b's features-ratio).
func featureRatio(name string, t Target, b *Benchmark) Target {
	t.Name = name
	if features, ok := b.value("features-ratio"); ok && t.Status != notMeasured {
		t.Detail += fmt.Sprintf("; the featured floor ÷ the floor %s×", format(features))
	}
	return t
}

// latencyBound is the p50 ratio a saga could reach were it to cost nothing
// beyond its own database and NATS work: the floor's p50 at conc 1 plus
// that of the six steps run while the floor runs (SagaStepsLoaded), ÷ the
// floor's. Above 1.25 the p50 target is out of reach on this machine.
func latencyBound(name string, floor, loaded *Benchmark) Target {
	t := Target{Name: name, Goal: "≤ 1.25 (else the p50 target is out of reach)", Status: notMeasured}
	if floor == nil {
		return t
	}
	f, okF := floor.value("p50-ms")
	steps, okS := loaded.value("p50-ms")
	if !okF || !okS || f == 0 {
		return t
	}
	v := (f + steps) / f
	t.Value, t.Status = v, status(v <= 1.25)
	t.Detail = fmt.Sprintf("(%s + %s) ÷ %s p50-ms", format(f), format(steps), format(f))
	return t
}

func status(ok bool) string {
	if ok {
		return met
	}
	return notMet
}

// format prints about three significant digits.
func format(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100 || a == math.Trunc(a):
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// cell is a median with its spread across runs.
func cell(b *Benchmark, unit string) string {
	m, ok := b.Metrics[unit]
	if !ok {
		return "–"
	}
	if len(m.Values) < 2 {
		return format(m.Median)
	}
	return fmt.Sprintf("%s ±%.0f%%", format(m.Median), 100*m.Spread())
}

func plain(b *Benchmark, unit string) string {
	m, ok := b.Metrics[unit]
	if !ok {
		return "–"
	}
	return format(m.Median)
}

// Markdown renders the report.
func (r *Report) Markdown() string {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	m := r.Machine
	p("| machine | |\n|---|---|\n")
	p("| CPU | %s, %d logical CPUs (nproc) |\n", m.CPU, m.NProc)
	p("| Go | %s |\n", m.Go)
	p("| Temporal server | %s |\n", cmp.Or(m.Temporal, "?"))
	p("| commit | %s |\n", cmp.Or(m.Commit, "?"))
	p("| date | %s |\n", m.Date)
	p("\n```sh\n%s\n```\n", cmp.Or(r.Command, "?"))
	runs := 0
	for _, b := range r.Benchmarks {
		runs = max(runs, b.Runs)
	}
	p("\nEach figure is the median of %d run(s); ± is the largest deviation of a run from it. "+
		"`go tool benchstat bench-results/raw.txt` gives confidence intervals.\n", runs)

	p("\n### Targets\n\n| target | measured | goal | status | from |\n|---|---|---|---|---|\n")
	for _, t := range r.Targets {
		value := "–"
		if t.Status != notMeasured {
			value = format(t.Value)
		}
		p("| %s | %s | %s | **%s** | %s |\n", t.Name, value, t.Goal, t.Status, t.Detail)
	}

	var sagas, relays, feds, others []*Benchmark
	for _, b := range r.Benchmarks {
		switch {
		case b.base == "Saga":
			sagas = append(sagas, b)
		case b.base == "Relay":
			relays = append(relays, b)
		case strings.HasPrefix(b.base, "Federation"):
			feds = append(feds, b)
		default:
			others = append(others, b)
		}
	}
	if len(sagas) > 0 {
		// server pg: PostgreSQL's work for the Temporal server's
		// persistence, measured with SERVER=postgres only.
		serverPG := slices.ContainsFunc(sagas, func(b *Benchmark) bool { _, ok := b.value("server-pg-cpu-ms/op"); return ok })
		p("\n### Sagas\n\nFrom start to outcome, as the starting service sees it; conc starters each wait for their saga before starting the next. " +
			"CPU: milliseconds of CPU per saga spent by the Temporal server, the worker processes, PostgreSQL (fedsaga's databases), the benchmark process (starters and NATS)")
		head, rule := "| mode | workers | saga | conc | sagas/s | p50 ms | p95 ms | p99 ms | CPU ms/saga: server | worker | pg | bench |", "|---|---|---|---|---|---|---|---|---|---|---|---|"
		if serverPG {
			p(" and PostgreSQL for the Temporal server's persistence (server pg)")
			head, rule = head+" server pg |", rule+"---|"
		}
		p(".\n\n%s\n%s\n", head, rule)
		for _, b := range sagas {
			k := b.keys
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |",
				k["mode"], k["workers"], k["kind"], k["conc"],
				cell(b, "sagas/s"), cell(b, "p50-ms"), plain(b, "p95-ms"), plain(b, "p99-ms"),
				plain(b, "server-cpu-ms/op"), plain(b, "worker-cpu-ms/op"), plain(b, "pg-cpu-ms/op"), plain(b, "bench-cpu-ms/op"))
			if serverPG {
				p(" %s |", plain(b, "server-pg-cpu-ms/op"))
			}
			p("\n")
		}
	}
	if len(relays) > 0 {
		p("\n### Events: outbox relay to JetStream\n\nOne operation drains a backlog of outbox rows, every publish acknowledged and every row marked published. " +
			"CPU: microseconds per event spent by PostgreSQL and by the benchmark process (the relay and the in-process NATS server).\n\n")
		p("| benchmark | events/s | ms per backlog | CPU µs/event: pg | bench |\n|---|---|---|---|---|\n")
		for _, b := range relays {
			p("| %s | %s | %s | %s | %s |\n", b.Name, cell(b, "events/s"), msPerOp(b), plain(b, "pg-cpu-us/event"), plain(b, "bench-cpu-us/event"))
		}
	}
	if len(feds) > 0 {
		p("\n### Federation\n\n| benchmark | ms/op | queries |\n|---|---|---|\n")
		for _, b := range feds {
			p("| %s | %s | %s |\n", b.Name, msPerOp(b), queries(b))
		}
	}
	if len(others) > 0 {
		p("\n### Other benchmarks\n\n| benchmark | metrics |\n|---|---|\n")
		for _, b := range others {
			var ms []string
			for _, unit := range slices.Sorted(maps.Keys(b.Metrics)) {
				ms = append(ms, cell(b, unit)+" "+unit)
			}
			p("| %s | %s |\n", b.Name, strings.Join(ms, ", "))
		}
	}
	return w.String()
}

func msPerOp(b *Benchmark) string {
	v, ok := b.value("ns/op")
	if !ok {
		return "–"
	}
	return format(v / 1e6)
}

// queries shows the metrics whose unit names queries.
func queries(b *Benchmark) string {
	var qs []string
	for _, unit := range slices.Sorted(maps.Keys(b.Metrics)) {
		if strings.Contains(unit, "quer") {
			qs = append(qs, plain(b, unit)+" "+unit)
		}
	}
	if len(qs) == 0 {
		return "–"
	}
	return strings.Join(qs, ", ")
}
