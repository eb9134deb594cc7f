package flock

import (
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestExclusion: flock locks are per open file, so two Opens in one
// process exclude each other as two processes would.
func TestExclusion(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	for _, c := range []struct {
		name          string
		held, ask     int
		wantWouldWait bool
	}{
		{"shared beside shared", unix.LOCK_SH, unix.LOCK_SH, false},
		{"exclusive beside shared", unix.LOCK_SH, unix.LOCK_EX, true},
		{"shared beside exclusive", unix.LOCK_EX, unix.LOCK_SH, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			held, err := Open(p, c.held)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Open(p, c.ask|unix.LOCK_NB)
			if c.wantWouldWait != errors.Is(err, unix.EWOULDBLOCK) {
				t.Fatalf("second lock: %v, want would-wait %v", err, c.wantWouldWait)
			}
			if err == nil {
				Unlock(f)
			}
			if err := Unlock(held); err != nil {
				t.Fatal(err)
			}
			// Released: the second one gets it now.
			f, err = Open(p, c.ask|unix.LOCK_NB)
			if err != nil {
				t.Fatalf("after unlock: %v", err)
			}
			Unlock(f)
		})
	}
}
