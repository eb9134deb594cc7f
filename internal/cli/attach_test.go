package cli

import (
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/strata-dev/strata/internal/executor"
)

// openPty makes a pseudo-terminal: the master the test types into and
// reads from, and the slave a command gets as its terminal.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	master, slave, err := executor.OpenPty()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	return master, slave
}

// attach to a -t container from a terminal, as docker's (recorded):
//
//	$ docker run -dit --name dt busybox sh
//	$ docker attach dt        (in a 33x111 terminal)
//	stty size<CR>             -> "33 111" (the container's terminal has this one's size)
//	ctrl-p ctrl-q             -> "read escape sequence", rc 1; dt still Up
//	$ echo x | docker attach dt                    -> "the input device is not a TTY", rc 1
func TestAttachTerminal(t *testing.T) {
	bin := strataBin(t)
	root := busyboxRoot(t)
	if out, errOut, code := sh(t, root, "run", "-d", "-i", "-t", "--name", "c1", "busybox", "sh"); code != 0 {
		t.Fatalf("run: %d %s %s", code, out, errOut)
	}
	master, slave := openPty(t)
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 111}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--root", root, "attach", "c1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var screen syncBuffer
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			screen.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	waitFor := func(s string) {
		t.Helper()
		for i := 0; i < 200 && !strings.Contains(screen.String(), s); i++ {
			time.Sleep(50 * time.Millisecond)
		}
		if !strings.Contains(screen.String(), s) {
			cmd.Process.Kill()
			t.Fatalf("no %q on the screen: %q", s, screen.String())
		}
	}
	// Typed keys reach the shell as they are (raw): its reply comes back.
	time.Sleep(500 * time.Millisecond)
	master.Write([]byte("stty size; echo done\r"))
	waitFor("33 111")
	waitFor("done")
	master.Write([]byte{0x10, 0x11})
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case <-errc:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("attach did not end on ctrl-p ctrl-q: %q", screen.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("detached attach exit %d, want docker's 1", code)
	}
	waitFor("read escape sequence")
	if out, _, _ := sh(t, root, "ps", "--format", "{{.Names}} {{.State}}"); out != "c1 running\n" {
		t.Errorf("after detaching: ps %q, want c1 running", out)
	}
	// The terminal is as it was (not raw).
	if tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS); err != nil || tio.Lflag&unix.ICANON == 0 || tio.Lflag&unix.ECHO == 0 {
		t.Errorf("the terminal was left raw: %+v %v", tio, err)
	}

	for _, c := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"attach", "c1"}, "Error: the input device is not a TTY\n"},
		{[]string{"attach", "--detach-keys", "ctrl-1", "c1"}, "Error: Invalid detach keys (ctrl-1) provided\n"},
	} {
		cmd := exec.Command(bin, append([]string{"--root", root}, c.args...)...)
		cmd.Stdin = strings.NewReader("x\n")
		out, err := cmd.CombinedOutput()
		if string(out) != c.wantErr || cmd.ProcessState.ExitCode() != 1 {
			t.Errorf("%v: %q, %v; want %q, exit 1", c.args, out, err, c.wantErr)
		}
	}
}

// No command asks the terminal anything at start (bubbletea v1's package
// init wrote "\e]11;?" and "\e[6n" to a terminal stdout and read the
// answer from it: keys typed ahead were eaten, and where no answer came
// every command waited 5 s).
func TestNoTerminalQueryAtStart(t *testing.T) {
	bin := strataBin(t)
	master, slave := openPty(t)
	cmd := exec.Command(bin, "version")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// The terminal is the command's controlling one, and it is in the
	// terminal's foreground, as in an interactive shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	out, _ := io.ReadAll(master) // EIO once the slave is gone
	if !strings.Contains(string(out), "strata version") || strings.Contains(string(out), "\x1b") {
		t.Errorf("strata version on a terminal wrote %q", out)
	}
}

// run -it gives the container's terminal the size of the one it runs in,
// as docker's client does (crun's run left it 0x0: strata runs a terminal
// container under runc where crun was only chosen):
//
//	$ docker run -it --rm busybox sh -c 'sleep 1; stty size'   (in a 33x111 terminal)
//	33 111
func TestRunTerminalSize(t *testing.T) {
	strataBin(t)
	root := busyboxRoot(t)
	if out := onTerminal(t, "--root", root, "run", "-it", "--rm", "busybox", "stty", "size"); !strings.Contains(out, "33 111\r\n") {
		t.Errorf("stty size in run -it: %q, want 33 111", out)
	}
}

// exec -it too: its terminal gets the size of the one it runs in (docker
// 20.10: `docker exec -it c sh -c 'sleep 1; stty size'` in a 33x111
// terminal prints 33 111). The wait is needed here as in docker: runc's
// exec does not apply the process file's consoleSize (a full test run
// saw "stty: standard input", 0 rows, once without it).
func TestExecTerminalSize(t *testing.T) {
	strataBin(t)
	root := busyboxRoot(t)
	if out, errOut, code := sh(t, root, "run", "-d", "--name", "c1", "busybox", "sleep", "30"); code != 0 {
		t.Fatal(out, errOut)
	}
	if out := onTerminal(t, "--root", root, "exec", "-it", "c1", "sh", "-c", "sleep 0.5; stty size"); !strings.Contains(out, "33 111\r\n") {
		t.Errorf("stty size in exec -it: %q, want 33 111", out)
	}
}

// onTerminal runs strata with args on a new 33x111 terminal, its
// controlling one, and returns what it wrote there.
func onTerminal(t *testing.T, args ...string) string {
	t.Helper()
	master, slave := openPty(t)
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 111}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	out, _ := io.ReadAll(master) // EIO once the slave is gone
	return string(out)
}
