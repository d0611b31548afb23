package test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
)

// benchBinDirEnv names a directory where the benchmarks build their worker
// binaries, kept after the run (scripts/bench.sh --profile sets it, so that
// perf can name the functions); default: the stack's temporary directory.
const benchBinDirEnv = "FEDSAGA_BENCH_BINDIR"

// benchProfileDirEnv names a directory where every worker process of the
// saga benchmarks writes a pprof CPU profile of its run (--cpu-profile),
// named after its worker set: scripts/bench.sh --profile sets it.
const benchProfileDirEnv = "FEDSAGA_BENCH_PROFILEDIR"

var (
	benchBuildMu sync.Mutex
	benchBuilt   = map[string]string{} // package → binary
)

// benchBinary builds a main package of the module (a path relative to
// this directory) once per run.
func benchBinary(b *testing.B, pkg string) string {
	b.Helper()
	benchBuildMu.Lock()
	defer benchBuildMu.Unlock()
	if bin, ok := benchBuilt[pkg]; ok {
		return bin
	}
	dir := os.Getenv(benchBinDirEnv)
	if dir == "" {
		dir = filepath.Join(stack.Dir, "bench-bin")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	bin, err := filepath.Abs(filepath.Join(dir, filepath.Base(pkg)))
	if err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		b.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	benchBuilt[pkg] = bin
	return bin
}

// workerSet says which worker processes a benchmark needs.
type workerSet struct {
	fedsaga bool   // the fedsaga binary's worker; otherwise test/floorworker
	mode    string // saga.mode
	n       int    // processes
	// pool, poolTimeout, slots and publishTimeout, when not 0, set
	// pool_size and pool_timeout of the three databases, the activity and
	// local activity slots and events.publish_timeout.
	pool, slots                 int
	poolTimeout, publishTimeout time.Duration
	// otlp, when not "", turns telemetry on, exporting to this OTLP/HTTP endpoint.
	otlp string
	// bin, when not "", is the fedsaga binary to run instead of this tree's.
	bin string
	// compression, when not "", sets temporal.grpc_compression.
	compression string
}

// env is the environment of the set's processes on queue.
func (w workerSet) env(queue string) []string {
	env := []string{"FEDSAGA_TEMPORAL__TASK_QUEUE=" + queue, "FEDSAGA_SAGA__MODE=" + w.mode}
	if w.pool != 0 {
		for _, db := range []string{"ORDERS", "INVENTORY", "PAYMENTS"} {
			env = append(env, fmt.Sprintf("FEDSAGA_DATABASES__%s__POOL_SIZE=%d", db, w.pool))
		}
	}
	if w.poolTimeout != 0 {
		for _, db := range []string{"ORDERS", "INVENTORY", "PAYMENTS"} {
			env = append(env, fmt.Sprintf("FEDSAGA_DATABASES__%s__POOL_TIMEOUT=%s", db, w.poolTimeout))
		}
	}
	if w.publishTimeout != 0 {
		env = append(env, "FEDSAGA_EVENTS__PUBLISH_TIMEOUT="+w.publishTimeout.String())
	}
	if w.otlp != "" {
		env = append(env, "FEDSAGA_TELEMETRY__ENABLED=true", "FEDSAGA_TELEMETRY__PROTOCOL=http/protobuf",
			"FEDSAGA_TELEMETRY__ENDPOINT="+w.otlp)
	}
	if w.compression != "" {
		env = append(env, "FEDSAGA_TEMPORAL__GRPC_COMPRESSION="+w.compression)
	}
	if w.slots != 0 {
		env = append(env, fmt.Sprintf("FEDSAGA_WORKER__MAX_CONCURRENT_ACTIVITIES=%d", w.slots),
			fmt.Sprintf("FEDSAGA_WORKER__MAX_CONCURRENT_LOCAL_ACTIVITIES=%d", w.slots))
	}
	return env
}

// kind names the set's binary: "fedsaga" or "floor".
func (w workerSet) kind() string {
	if w.fedsaga {
		return "fedsaga"
	}
	return "floor"
}

func (w workerSet) String() string {
	return fmt.Sprintf("%d %s worker(s), mode %s", w.n, w.kind(), w.mode)
}

// profileName is the file name of process i's CPU profile in the set's
// start-th run, such as "fedsaga-local-2w.3-0.cpu.pprof". A set serves
// every benchmark that needs it in a row, so its profile covers them all
// (happy and compensation, each concurrency); -count starts it again, and
// pprof merges the files of one set: go tool pprof -top BIN fedsaga-local-2w.*
func (w workerSet) profileName(start, i int) string {
	return fmt.Sprintf("%s-%s-%dw.%d-%d.cpu.pprof", w.kind(), w.mode, w.n, start, i)
}

// benchWorkers runs the worker processes of the saga benchmarks: one set at
// a time, on a task queue of its own; asking for another set stops the
// current one. Stop it when the benchmarks are done.
type benchWorkers struct {
	s         *Stack
	set       workerSet
	queue     string
	procs     []*workerProc
	starts    int  // sets started so far, for the profiles' names
	noProfile bool // no CPU profiles, whatever FEDSAGA_BENCH_PROFILEDIR says
}

type workerProc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has exited
}

// use starts the set unless it runs already, and returns its task queue.
// The first set of a run waits for the Temporal server to be warm
// (Stack.warmServer).
func (w *benchWorkers) use(b *testing.B, set workerSet) string {
	b.Helper()
	if set == w.set && w.procs != nil {
		return w.queue
	}
	w.s.warmServer(b)
	return w.start(b, set)
}

// start stops the current set and starts set.
func (w *benchWorkers) start(b *testing.B, set workerSet) string {
	b.Helper()
	w.stop()
	args := []string{"--config", w.s.ConfigPath}
	var bin string
	if set.fedsaga {
		bin = cmp.Or(set.bin, benchBinary(b, "../cmd/fedsaga"))
		args = append(args, "worker")
	} else {
		bin = benchBinary(b, "./floorworker")
	}
	w.set, w.queue = set, benchID("queue")
	w.starts++
	for i := range set.n {
		procArgs := args
		if dir := os.Getenv(benchProfileDirEnv); dir != "" && !w.noProfile {
			procArgs = append(slices.Clone(args), "--cpu-profile", filepath.Join(dir, set.profileName(w.starts, i)))
		}
		p, err := startWorkerProc(filepath.Join(w.s.Dir, fmt.Sprintf("%s-%d.log", w.queue, i)), bin, procArgs, set.env(w.queue)...)
		if err != nil {
			b.Fatalf("start %s: %v", set, err)
		}
		w.procs = append(w.procs, p)
	}
	if err := w.waitReady(set.n); err != nil {
		b.Fatalf("%s on %s: %v", set, w.queue, err)
	}
	return w.queue
}

// startWorkerProc starts a worker process of bin with args, the
// environment plus env and its own HTTP port, writing its output to logPath.
// The process gets SIGTERM when this one dies.
func startWorkerProc(logPath, bin string, args []string, env ...string) (*workerProc, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(os.Environ(), "FEDSAGA_WORKER__HTTP_ADDRESS=127.0.0.1:0"), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	stopWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &workerProc{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// waitReady waits until n processes poll the task queue for workflow and
// activity tasks.
func (w *benchWorkers) waitReady(n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		for _, p := range w.procs {
			select {
			case <-p.done:
				return fmt.Errorf("a worker exited (%s): %s", p.cmd.ProcessState, logTail(p.log))
			default:
			}
		}
		ready := true
		for _, typ := range []enums.TaskQueueType{enums.TASK_QUEUE_TYPE_WORKFLOW, enums.TASK_QUEUE_TYPE_ACTIVITY} {
			resp, err := w.s.Temporal.DescribeTaskQueue(ctx, w.queue, typ)
			if err != nil {
				return err
			}
			ids := map[string]bool{}
			for _, p := range resp.GetPollers() {
				ids[p.GetIdentity()] = true
			}
			ready = ready && len(ids) >= n
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("workers not polling after 60s; log: %s", logTail(w.procs[0].log))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// pids are the running worker processes.
func (w *benchWorkers) pids() []int {
	pids := make([]int, len(w.procs))
	for i, p := range w.procs {
		pids[i] = p.cmd.Process.Pid
	}
	return pids
}

// stop stops the running set gracefully (SIGTERM), killing what does not
// stop in time.
func (w *benchWorkers) stop() {
	for _, p := range w.procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range w.procs {
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	w.procs = nil
}

// logTail is the end of a log file, for error messages.
func logTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(data[max(0, len(data)-2000):])
}

// Process groups whose CPU time the saga benchmarks report.
const (
	cpuServer   = "server" // the Temporal dev server
	cpuWorkers  = "worker" // the worker processes under test
	cpuPostgres = "pg"     // PostgreSQL: the backends of the stack's databases and the background processes
	cpuBench    = "bench"  // this process: starters, in-process NATS, the stack's idle worker
	// cpuServerPG is PostgreSQL's work for the Temporal server's
	// persistence: the backends of its databases (SERVER=postgres only).
	cpuServerPG = "server-pg"
)

// cpuSample is the CPU time (user + system) of the processes a benchmark
// measures, by pid. Where /proc is not there, it is empty.
type cpuSample map[int]cpuProc

type cpuProc struct {
	group string
	cpu   time.Duration
}

// sampleCPU reads the CPU time of the benchmark's processes from /proc.
func (s *Stack) sampleCPU(workerPIDs []int) cpuSample {
	sample := cpuSample{}
	self := os.Getpid()
	if d, _, err := procCPU(self); err == nil {
		sample[self] = cpuProc{cpuBench, d}
	}
	for _, pid := range workerPIDs {
		if d, _, err := procCPU(pid); err == nil {
			sample[pid] = cpuProc{cpuWorkers, d}
		}
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		d, st, err := procCPU(pid)
		switch {
		case err != nil:
		case st.ppid == self && strings.HasPrefix(st.comm, "temporal"):
			sample[pid] = cpuProc{cpuServer, d} // the dev server is this process's child
		case st.comm == "postgres" && s.postgresOf(pid, s.serverDBs):
			sample[pid] = cpuProc{cpuServerPG, d}
		case st.comm == "postgres" && s.ownPostgres(pid):
			sample[pid] = cpuProc{cpuPostgres, d}
		}
	}
	return sample
}

// ownPostgres tells a PostgreSQL process that works for the stack: a
// backend of one of its databases, or a background process (its title
// names no client address). Backends of other databases on the machine's
// server are left out.
func (s *Stack) ownPostgres(pid int) bool {
	if s.postgresOf(pid, s.dbNames) {
		return true
	}
	title, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	return !bytes.Contains(title, []byte("(")) || bytes.Contains(title, []byte("autovacuum worker"))
}

// postgresOf tells a PostgreSQL backend of one of the databases dbs.
func (s *Stack) postgresOf(pid int, dbs []string) bool {
	title, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	for _, db := range dbs {
		if bytes.Contains(title, []byte(" "+db+" ")) {
			return true
		}
	}
	return false
}

// since is the CPU time each group spent from before to now. A process
// that started in between counts from its start; one that ended in between
// is left out.
func (now cpuSample) since(before cpuSample) map[string]time.Duration {
	spent := map[string]time.Duration{}
	for pid, p := range now {
		spent[p.group] += p.cpu - before[pid].cpu
	}
	return spent
}

type procStat struct {
	comm string
	ppid int
}

// procCPU reads /proc/PID/stat: user + system time, command and parent.
func procCPU(pid int) (time.Duration, procStat, error) {
	path := "/proc/" + strconv.Itoa(pid) + "/stat"
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, procStat{}, err
	}
	// pid (comm) state ppid ... utime stime: comm may hold spaces.
	open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return 0, procStat{}, errors.New("malformed " + path)
	}
	fields := strings.Fields(string(data[end+1:]))
	if len(fields) < 13 {
		return 0, procStat{}, errors.New("malformed " + path)
	}
	st := procStat{comm: string(data[open+1 : end])}
	st.ppid, _ = strconv.Atoi(fields[1])
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const userHZ = 100 // the unit of /proc's times on Linux
	return time.Duration(utime+stime) * time.Second / userHZ, st, nil
}
