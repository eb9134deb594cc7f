package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// restart, rename, top, stats, pause/unpause, attach, health and events on
// real containers (the monitor is the strata binary).
func TestLifecycleCommandsCLI(t *testing.T) {
	strataBin(t)
	root := busyboxRoot(t)
	// Names that are no hex prefix: --filter container=V also matches
	// IDs that start with V, as docker's does, and an ID starting "c2"
	// (1 in 256) made the events steps fail.
	t.Cleanup(func() { exec.Command(binPath, "--root", root, "rm", "-f", "x1", "x2").Run() })
	steps := []struct {
		args     []string
		wantOut  string // regexp
		wantErr  string // regexp
		wantCode int
	}{
		{[]string{"run", "-d", "--name", "x1", "--health-cmd", "test -f /ok", "--health-interval", "100ms", "--health-retries", "1", "busybox", "sh", "-c", "trap 'exit 0' TERM; echo started; while :; do sleep 0.1; done"}, `^[0-9a-f]{64}\n$`, ``, 0},
		{[]string{"top", "x1"}, `^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\nroot .* sh -c trap 'exit 0' TERM; echo started; while :; do sleep 0.1; done\n`, ``, 0},
		{[]string{"top", "x1", "-o", "pid,comm"}, `^PID\s+COMMAND\n[0-9]+\s+sh\n`, ``, 0},
		{[]string{"top", "x1", "-o", "comm=PID"}, ``, `^Error: specified "comm=PID" is misleading\n$`, 1},
		{[]string{"stats", "--no-stream", "x1"}, `^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE / LIMIT\s+MEM %\s+NET I/O\s+BLOCK I/O\s+PIDS\n[0-9a-f]{12}\s+x1\s+[0-9.]+%\s+[0-9.]+[KMG]?i?B / [0-9.]+[KMGT]iB\s+[0-9.]+%\s+[0-9.]+[kMG]?B / [0-9.]+[kMG]?B\s+[0-9.]+[kMG]?B / [0-9.]+[kMG]?B\s+[1-9][0-9]*\n$`, ``, 0},
		{[]string{"exec", "x1", "touch", "/ok"}, `^$`, ``, 0},
		{[]string{"pause", "x1"}, `^x1\n$`, ``, 0},
		{[]string{"ps", "--format", "{{.Names}} {{.Status}} {{.State}}"}, `^x1 Up .* \(Paused\) paused\n$`, ``, 0},
		{[]string{"ps", "-q", "--filter", "status=paused"}, `^[0-9a-f]{12}\n$`, ``, 0},
		{[]string{"pause", "x1"}, ``, `^Error: Container [0-9a-f]{64} is already paused\n$`, 1},
		{[]string{"unpause", "x1"}, `^x1\n$`, ``, 0},
		{[]string{"unpause", "x1"}, ``, `^Error: Container [0-9a-f]{64} is not paused\n$`, 1},
		// Probes fail while the container is paused, and the status
		// stays unhealthy until the next one after unpause (docker 20.10
		// the same: "unhealthy" right after `docker unpause`): a second
		// of probes at 100ms.
		{[]string{"exec", "x1", "sleep", "1"}, `^$`, ``, 0},
		{[]string{"inspect", "-f", "{{.State.Status}} {{.State.Health.Status}}", "x1"}, `^running healthy\n$`, ``, 0},
		{[]string{"ps", "--format", "{{.Status}}"}, `^Up .* \(healthy\)\n$`, ``, 0},
		{[]string{"ps", "-q", "--filter", "health=healthy"}, `^[0-9a-f]{12}\n$`, ``, 0},
		{[]string{"ps", "-q", "--filter", "health=none"}, `^$`, ``, 0},
		{[]string{"ps", "-q", "--filter", "health=sick"}, ``, `^Error: Unrecognised filter value for health: sick\n$`, 1},
		{[]string{"rename", "x1", "x2"}, `^$`, ``, 0},
		{[]string{"rename", "x2", "bad name"}, ``, `^Error: Error when allocating new name: Invalid container name \(/bad name\), only \[a-zA-Z0-9\]\[a-zA-Z0-9_.-\] are allowed\n$`, 1},
		{[]string{"restart", "-s", "USR1", "-t", "1", "x2"}, `^x2\n$`, ``, 0},
		{[]string{"ps", "--format", "{{.Names}} {{.State}}"}, `^x2 running\n$`, ``, 0},
		{[]string{"logs", "x2"}, `^started\nstarted\n$`, ``, 0},
		{[]string{"restart", "nosuch"}, ``, `^Error: No such container: nosuch\n$`, 1},
		{[]string{"stop", "-t", "1", "x2"}, `^x2\n$`, ``, 0},
		{[]string{"attach", "x2"}, ``, `^Error: You cannot attach to a stopped container, start it first\n$`, 1},
		{[]string{"top", "x2"}, ``, `^Error: Container [0-9a-f]{64} is not running\n$`, 1},
		{[]string{"run", "-d", "--name", "x1", "busybox", "sh", "-c", "sleep 2; echo out; echo err >&2; exit 3"}, `^[0-9a-f]{64}\n$`, ``, 0},
		{[]string{"attach", "--no-stdin", "x1"}, `^out\n$`, `^err\n$`, 3},
		{[]string{"events", "--since", "10m", "--until", "0s", "--filter", "container=x2", "--filter", "event=create", "--filter", "event=start", "--filter", "event=die", "--filter", "event=kill", "--filter", "event=stop", "--filter", "event=restart", "--filter", "event=rename", "--filter", "event=pause", "--filter", "event=unpause", "--filter", "event=attach", "--filter", "event=top", "--filter", "event=health_status", "--format", "{{.Action}}"}, `^rename\n(kill\n|health_status: \w+\n)+die\nstop\nstart\n(health_status: healthy\n)?restart\n(health_status: healthy\n)?(kill\n|health_status: \w+\n)+die\nstop\n$`, ``, 0},
		{[]string{"events", "--since", "10m", "--until", "0s", "--filter", "container=x1", "--filter", "event=create", "--filter", "event=start", "--filter", "event=die", "--filter", "event=kill", "--filter", "event=stop", "--filter", "event=restart", "--filter", "event=rename", "--filter", "event=pause", "--filter", "event=unpause", "--filter", "event=attach", "--filter", "event=top", "--filter", "event=health_status", "--format", "{{.Action}}"}, `^create\nstart\n(top\n|health_status: \w+\n)+pause\n(health_status: \w+\n)*unpause\n(health_status: \w+\n)*create\nstart\nattach\ndie\n$`, ``, 0},
		{[]string{"events", "--since", "10m", "--until", "0s", "--filter", "container=x2", "--filter", "event=kill", "--format", "{{.Actor.Attributes.signal}}"}, `^10\n9\n15\n$`, ``, 0},
		{[]string{"events", "--since", "10m", "--until", "0s", "--filter", "container=x1", "--filter", "event=exec_create", "--format", "{{.Action}}"}, `(?m)^exec_create: touch /ok$`, ``, 0},
		{[]string{"events", "--since", "10m", "--until", "0s", "--filter", "container=x1", "--filter", "event=exec_die", "--format", "{{.Actor.Attributes.exitCode}}"}, `(?m)^0$`, ``, 0},
		{[]string{"events", "--since", "10m", "--until", "0s", "--filter", "event=die", "--filter", "container=x1"}, `^\S+ container die [0-9a-f]{64} \(exitCode=3, image=busybox, name=x1\)\n$`, ``, 0},
		{[]string{"events", "--filter", "bogus=1", "--until", "0s"}, ``, `^Error: Invalid filter 'bogus'\n$`, 1},
		{[]string{"events", "--since", "nonsense", "--until", "0s"}, ``, `failed to parse value as time or duration: "nonsense"`, 1},
	}
	for _, s := range steps {
		out, errOut, code := sh(t, root, s.args...)
		if code != s.wantCode || !regexp.MustCompile(s.wantOut).MatchString(out) || (s.wantErr != "" && !regexp.MustCompile(s.wantErr).MatchString(errOut)) {
			t.Fatalf("strata %s: exit %d (want %d)\nstdout %q (want %s)\nstderr %q (want %s)", strings.Join(s.args, " "), code, s.wantCode, out, s.wantOut, errOut, s.wantErr)
		}
	}
}

func TestCompletionAndMan(t *testing.T) {
	for _, c := range []struct{ shell, want string }{
		{"bash", "__start_strata"}, {"zsh", "#compdef strata"}, {"fish", "complete -c strata"}, {"powershell", "Register-ArgumentCompleter"},
	} {
		out, errOut, code := strata(t, t.TempDir(), "", "completion", c.shell)
		if code != 0 || !strings.Contains(out, c.want) {
			t.Errorf("completion %s: exit %d, %s, output lacks %q", c.shell, code, errOut, c.want)
		}
	}
	if _, errOut, code := strata(t, t.TempDir(), "", "completion", "tcsh"); code != 1 || errOut != "Error: invalid argument \"tcsh\" for \"strata completion\"\n" {
		t.Errorf("completion tcsh: exit %d, %q", code, errOut)
	}
	dir := filepath.Join(t.TempDir(), "man")
	if _, errOut, code := strata(t, t.TempDir(), "", "gen-man", dir); code != 0 {
		t.Fatalf("gen-man: exit %d %s", code, errOut)
	}
	page, err := os.ReadFile(filepath.Join(dir, "strata-run.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`.TH "STRATA" "1"`, `strata\-run \- Create and run a new container from an image`, `\fB\-d\fP, \fB\-\-detach\fP`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("strata-run.1 lacks %q:\n%s", want, page)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "strata-container-ls.1")); err != nil {
		t.Errorf("no page for a subcommand: %v", err)
	}
}

// tag, rmi and prune record docker's image events, which events reads
// back with its filters.
func TestImageEvents(t *testing.T) {
	root := fixture(t)
	for _, args := range [][]string{
		{"tag", "busybox", "registry.local/x/y:2"},
		{"rmi", "registry.local/x/y:2"},
		{"rmi", "example.com:5000/team/app:v1"},
	} {
		if _, errOut, code := strata(t, root, "", args...); code != 0 {
			t.Fatalf("%v: exit %d %s", args, code, errOut)
		}
	}
	id := func(ref string) string {
		out, _, _ := strata(t, root, "", "inspect", "-f", "{{.Id}}", ref)
		return strings.TrimSpace(out)
	}
	busybox := id("busybox")
	out, errOut, code := strata(t, root, "", "events", "--since", "0", "--until", time.Now().Format(time.RFC3339Nano), "--filter", "type=image",
		"--format", "{{.Type}} {{.Action}} {{.ID}} {{.Actor.Attributes.name}}")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 4 {
		t.Fatalf("exit %d %s\n%s", code, errOut, out)
	}
	want := []string{
		"image tag " + busybox + " registry.local/x/y:2",
		"image untag " + busybox + " " + busybox,
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("line %d: %q, want %q", i, lines[i], w)
		}
	}
	app := regexp.MustCompile(`^image (untag|delete) (sha256:[0-9a-f]{64}) (sha256:[0-9a-f]{64})$`)
	for _, l := range lines[2:] {
		if m := app.FindStringSubmatch(l); m == nil || m[2] != m[3] || m[2] == busybox {
			t.Errorf("%q: want the app image's untag and delete, named by its ID", l)
		}
	}
	if out, _, _ := strata(t, root, "", "events", "--since", "0", "--until", time.Now().Format(time.RFC3339Nano), "--filter", "event=delete", "--filter", "type=container"); out != "" {
		t.Errorf("filters are and-ed: %q", out)
	}
}

// attach writes to the stdin of a container run with -d -i, which stays
// open after an attach ends, as docker keeps it.
func TestAttachStdin(t *testing.T) {
	bin := strataBin(t)
	root := busyboxRoot(t)
	if out, errOut, code := sh(t, root, "run", "-d", "-i", "--name", "c1", "busybox", "sh", "-c", "read a; echo got $a; read b; echo got $b; exit 4"); code != 0 {
		t.Fatalf("run: %d %s %s", code, out, errOut)
	}
	for i, c := range []struct {
		in, want string
		code     int
	}{{"one\n", "got one\n", -1}, {"two\n", "got two\n", 4}} {
		cmd := exec.Command(bin, "--root", root, "attach", "c1")
		cmd.Stdin = strings.NewReader(c.in)
		var out syncBuffer
		cmd.Stdout = &out
		if c.code < 0 {
			// The first attach sees its line echoed, then is interrupted
			// (not proxied) while the container waits for more.
			cmd.Args = append(cmd.Args[:4], "--sig-proxy=false", "c1")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			for j := 0; j < 100 && out.Len() < len(c.want); j++ {
				time.Sleep(50 * time.Millisecond)
			}
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
		} else if err := cmd.Run(); err == nil || cmd.ProcessState.ExitCode() != c.code {
			t.Fatalf("attach %d: %v, want exit %d", i, err, c.code)
		}
		if out.String() != c.want {
			t.Fatalf("attach %d: %q, want %q", i, out.String(), c.want)
		}
	}
}

// syncBuffer is a bytes.Buffer a test reads while a command writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Len() int { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.Len() }

func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// stop -s sends that signal instead of the stop signal (current docker's
// flag):
//
//	$ docker run -d --name s1 busybox sh -c "trap 'echo got USR1; exit 7' USR1; while :; do sleep 0.1; done"
//	$ docker stop -s USR1 -t 5 s1; docker logs s1; docker inspect -f '{{.State.ExitCode}}' s1
//	s1 / got USR1 / 7
func TestStopSignal(t *testing.T) {
	strataBin(t)
	root := busyboxRoot(t)
	if out, errOut, code := sh(t, root, "run", "-d", "--name", "c1", "busybox", "sh", "-c", "trap 'echo got USR1; exit 7' USR1; while :; do sleep 0.1; done"); code != 0 {
		t.Fatalf("run: %d %s %s", code, out, errOut)
	}
	for _, s := range []struct {
		args []string
		want string
	}{
		{[]string{"stop", "-s", "USR1", "-t", "30", "c1"}, "c1\n"},
		{[]string{"logs", "c1"}, "got USR1\n"},
		{[]string{"inspect", "-f", "{{.State.ExitCode}}", "c1"}, "7\n"},
		{[]string{"events", "--since", "10m", "--until", "0s", "--filter", "event=kill", "--format", "{{.Actor.Attributes.signal}}"}, "10\n"},
	} {
		if out, errOut, code := sh(t, root, s.args...); code != 0 || out != s.want {
			t.Errorf("strata %v: %d %q %q, want %q", s.args, code, out, errOut, s.want)
		}
	}
}

// A --rm container's root is mounted volatile (its unmount syncs nothing:
// the layer is thrown away); one that is kept is not (start may mount it
// again after a crash, which a volatile upper dir refuses).
func TestRmContainerRootVolatile(t *testing.T) {
	strataBin(t)
	root := busyboxRoot(t)
	for _, c := range []struct {
		args     []string
		volatile bool
	}{
		{[]string{"run", "--rm", "busybox", "grep", " / ", "/proc/mounts"}, true},
		{[]string{"run", "--name", "c1", "busybox", "grep", " / ", "/proc/mounts"}, false},
	} {
		out, errOut, code := sh(t, root, c.args...)
		if code != 0 || !strings.Contains(out, "overlay") || strings.Contains(out, "volatile") != c.volatile {
			t.Errorf("%v: %d %q %q, want volatile %v", c.args, code, out, errOut, c.volatile)
		}
	}
}
