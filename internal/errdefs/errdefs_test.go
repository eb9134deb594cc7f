package errdefs

import (
	"errors"
	"fmt"
	"testing"
)

func TestKinds(t *testing.T) {
	base := errors.New("blob sha256:ab not found")
	for _, c := range []struct {
		name                                 string
		err                                  error
		msg                                  string
		notFound, conflict, invalid, unavail bool
	}{
		{"wrapped sentinel", fmt.Errorf("images x: %w", ErrNotFound), "images x: not found", true, false, false, false},
		{"kind given, message kept", NotFound(base), "blob sha256:ab not found", true, false, false, false},
		{"kind under a wrap", fmt.Errorf("pull: %w", Conflict(errors.New("name in use"))), "pull: name in use", false, true, false, false},
		{"invalid argument", InvalidArgument(errors.New("bad ref")), "bad ref", false, false, true, false},
		{"unavailable", Unavailable(errors.New("no runtime")), "no runtime", false, false, false, true},
		{"no kind", errors.New("plain"), "plain", false, false, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.err.Error() != c.msg {
				t.Errorf("message %q, want %q", c.err.Error(), c.msg)
			}
			got := [4]bool{IsNotFound(c.err), IsConflict(c.err), IsInvalidArgument(c.err), IsUnavailable(c.err)}
			if want := [4]bool{c.notFound, c.conflict, c.invalid, c.unavail}; got != want {
				t.Errorf("kinds (notfound, conflict, invalid, unavailable) = %v, want %v", got, want)
			}
		})
	}
	// The error a kind was given stays reachable.
	if !errors.Is(NotFound(base), base) {
		t.Error("NotFound(err) hides err from errors.Is")
	}
	if NotFound(nil) != nil {
		t.Error("NotFound(nil) is not nil")
	}
}

func TestExitError(t *testing.T) {
	inner := NotFound(errors.New("no such container: x"))
	for _, c := range []struct {
		err  error
		code int
		msg  string
	}{
		{Exit(3, nil), 3, "exit status 3"},
		{fmt.Errorf("run: %w", Exit(125, inner)), 125, "run: no such container: x"},
	} {
		var ee *ExitError
		if !errors.As(c.err, &ee) || ee.Code != c.code || c.err.Error() != c.msg {
			t.Errorf("%v: code %v, want %d and message %q", c.err, ee, c.code, c.msg)
		}
	}
	if !IsNotFound(Exit(125, inner)) {
		t.Error("an ExitError hides its error's kind")
	}
}
