package cli

import (
	"context"
	"errors"

	"github.com/strata-dev/strata/internal/errdefs"
)

// Exit statuses, as docker's cli gives them.
const (
	// exitFailure is any error of strata's own, whatever its kind (docker
	// exits 1 for "No such image" as for a conflict or a wrong number of
	// arguments).
	exitFailure = 1
	// exitUsage is an unknown flag or a flag's bad value, for any command.
	exitUsage = 125
	// exitRunFailure is run, create, start or exec failing around the
	// container rather than in it (docker's 125: bad input, unknown
	// image); a container's own status, and 126/127 for a program that
	// cannot be run, pass through as the ExitError that carries them.
	exitRunFailure = 125
)

// exitCode is the one place where an error becomes the process's exit
// status: an *errdefs.ExitError's own code, 128+n for a command a signal
// interrupted, else exitFailure.
func exitCode(err error) int {
	var ee *errdefs.ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	if sig := interruptedBy.Load(); sig != 0 && errors.Is(err, context.Canceled) {
		return 128 + int(sig) // a build or pull stopped by ^C: 130
	}
	return exitFailure
}

// runError gives the errors of run, create, start and exec docker's
// statuses: the container's own (and 126/127) as they come, a ^C before
// the container started (an unpack or pull cut short) 128+n as exitCode
// gives it, anything else exitRunFailure.
func runError(err error) error {
	if err == nil {
		return nil
	}
	if interruptedBy.Load() != 0 && errors.Is(err, context.Canceled) {
		return err
	}
	var ee *errdefs.ExitError
	if errors.As(err, &ee) {
		return ee // its message alone, as docker prints it
	}
	return errdefs.Exit(exitRunFailure, err)
}
