// Package profiling starts Go's CPU profile and execution trace for one
// command when the environment asks for them, so that the next profile of
// a slow path needs no rebuilt binary: STRATA_CPUPROFILE=FILE writes a
// pprof CPU profile (`go tool pprof strata FILE`), STRATA_TRACE=FILE an
// execution trace (`go tool trace FILE`).
package profiling

import (
	"fmt"
	"os"
	"runtime/pprof"
	"runtime/trace"
)

// Start starts what the environment asks for and returns the function that
// stops it and writes the files; it reports a file it cannot create on
// stderr and goes on without it (a profile must never stop the command).
func Start() (stop func()) {
	var stops []func()
	if p := os.Getenv("STRATA_CPUPROFILE"); p != "" {
		if f, err := create(p); err == nil {
			if err := pprof.StartCPUProfile(f); err != nil {
				warn("STRATA_CPUPROFILE", err)
				f.Close()
			} else {
				stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
			}
		}
	}
	if p := os.Getenv("STRATA_TRACE"); p != "" {
		if f, err := create(p); err == nil {
			if err := trace.Start(f); err != nil {
				warn("STRATA_TRACE", err)
				f.Close()
			} else {
				stops = append(stops, func() { trace.Stop(); f.Close() })
			}
		}
	}
	return func() {
		for _, s := range stops {
			s()
		}
	}
}

func create(p string) (*os.File, error) {
	f, err := os.Create(p)
	if err != nil {
		warn("profile", err)
	}
	return f, err
}

func warn(what string, err error) {
	fmt.Fprintf(os.Stderr, "strata: %s: %v (running without it)\n", what, err)
}
