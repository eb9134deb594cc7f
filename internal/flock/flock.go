// Package flock takes advisory locks on files (flock(2)): the store lock and
// a container's locks are such files.
package flock

import (
	"os"

	"golang.org/x/sys/unix"
)

// Open opens (creating it if needed) the file at path and locks it with
// how (unix.LOCK_SH or unix.LOCK_EX, with LOCK_NB to not wait). The lock
// lasts until Unlock, or until the file is closed or the process ends.
func Open(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		// A signal may interrupt a waiting flock: wait again.
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Unlock releases the lock and closes f.
func Unlock(f *os.File) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_UN)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
