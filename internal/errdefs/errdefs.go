// Package errdefs classifies strata's errors by kind (not found, conflict,
// invalid argument, ...), whatever package they come from, so that a caller
// asks "is it a not-found?" with errors.Is instead of knowing each package's
// own sentinel, and the cli maps kinds to exit statuses in one place.
//
// A kind is a sentinel error; an error is of a kind when errors.Is finds the
// sentinel in its chain. Either wrap the sentinel (fmt.Errorf("image %s: %w",
// ref, errdefs.ErrNotFound) reads "image x: not found") or, to keep a message
// that does not end in the kind's words, give the error a kind with
// NotFound(err), Conflict(err), ...: the message stays err's.
package errdefs

import (
	"errors"
	"fmt"
)

// The kinds. Their messages are the plain words, so wrapping one with %w
// gives the message a user expects ("...: not found").
var (
	// ErrNotFound: what was named does not exist (an image, a container, a
	// blob, a snapshot, a record).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request clashes with the state (a name in use, an
	// image a container uses, a running container).
	ErrConflict = errors.New("conflict")
	// ErrInvalidArgument: the request itself is wrong (a bad reference,
	// flag value or option), whatever the state.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrUnavailable: something strata needs is not there or not working
	// (a registry that does not answer, a runtime that is not installed).
	ErrUnavailable = errors.New("unavailable")
)

// kinded is an error given a kind without changing its message.
type kinded struct {
	err, kind error
}

func (e *kinded) Error() string   { return e.err.Error() }
func (e *kinded) Unwrap() []error { return []error{e.err, e.kind} }

func withKind(kind, err error) error {
	if err == nil {
		return nil
	}
	return &kinded{err: err, kind: kind}
}

// NotFound gives err the kind ErrNotFound, keeping its message.
func NotFound(err error) error { return withKind(ErrNotFound, err) }

// Conflict gives err the kind ErrConflict, keeping its message.
func Conflict(err error) error { return withKind(ErrConflict, err) }

// InvalidArgument gives err the kind ErrInvalidArgument, keeping its message.
func InvalidArgument(err error) error { return withKind(ErrInvalidArgument, err) }

// Unavailable gives err the kind ErrUnavailable, keeping its message.
func Unavailable(err error) error { return withKind(ErrUnavailable, err) }

// IsNotFound reports whether err is of the kind ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsConflict reports whether err is of the kind ErrConflict.
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }

// IsInvalidArgument reports whether err is of the kind ErrInvalidArgument.
func IsInvalidArgument(err error) bool { return errors.Is(err, ErrInvalidArgument) }

// IsUnavailable reports whether err is of the kind ErrUnavailable.
func IsUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) }

// ExitError is an error that ends the process with its own status: a
// container's exit code passed through, docker's 125/126/127, or 1 with
// nothing more to say (fsck found damage, an analysis failed its rules).
type ExitError struct {
	Code int
	Err  error // nil: the status says it all (a container that exited with Code)
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Exit makes err end the process with status code; a nil err exits
// silently.
func Exit(code int, err error) error { return &ExitError{Code: code, Err: err} }
