package sandbox

import (
	"encoding/json"
	"fmt"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// seccomp is the container's seccomp filter: none when privileged or
// unconfined; else the profile (docker's default unless one was given)
// converted for this machine's architecture, keeping the rules whose
// conditions the container's capabilities and the kernel meet, as dockerd
// does. s.Process.Capabilities must be set.
func (o Options) seccomp(s *specs.Spec) (*specs.LinuxSeccomp, error) {
	if o.Privileged || o.Seccomp == Unconfined {
		return nil, nil
	}
	if o.Seccomp == "" {
		return seccomp.GetDefaultProfile(s)
	}
	p, err := seccomp.LoadProfile(o.Seccomp, s)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	return p, nil
}

// checkProfile checks that a seccomp profile given by --security-opt is
// one dockerd would load.
func checkProfile(body []byte) error {
	if !json.Valid(body) {
		return fmt.Errorf("not JSON")
	}
	// Converted once for a container with docker's default capabilities,
	// to find what the JSON decoder alone does not (unknown actions are
	// found by the runtime).
	_, err := seccomp.LoadProfile(string(body), &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: DefaultCaps}}})
	return err
}
