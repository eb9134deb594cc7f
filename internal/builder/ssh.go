package builder

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultSSH is the ID of the agent `--ssh default` forwards and a RUN
// --mount=type=ssh without id= asks for.
const DefaultSSH = "default"

// ParseSSH reads --ssh values as buildx does: "default" (the agent of
// $SSH_AUTH_SOCK) or ID=SOCKET ("default=SOCKET" too). It returns the
// agent socket of each ID. Only agent sockets are forwarded: buildx's
// ID=KEYFILE form, which runs an agent of its own, is refused.
func ParseSSH(values []string, getenv func(string) string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range values {
		id, sock, ok := strings.Cut(v, "=")
		if id == "" {
			return nil, fmt.Errorf("invalid --ssh %q: no ID", v)
		}
		if !ok {
			sock = getenv("SSH_AUTH_SOCK")
			if sock == "" {
				return nil, fmt.Errorf("invalid --ssh %q: SSH_AUTH_SOCK is not set: start an ssh-agent or give %s=SOCKET", v, id)
			}
		}
		if strings.Contains(sock, ",") {
			return nil, fmt.Errorf("invalid --ssh %q: strata forwards one agent socket per ID, not key files", v)
		}
		fi, err := os.Stat(sock)
		if err != nil {
			return nil, fmt.Errorf("invalid --ssh %q: %v", v, err)
		}
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("invalid --ssh %q: %s is not an agent socket (key files are not supported: add the key to an ssh-agent)", v, sock)
		}
		out[id] = sock
	}
	return out, nil
}

// sshDir is where BuildKit puts agent sockets by default: a directory of
// the build's own, kept out of the layer with what the runtime made in it.
const sshDir = "/run/buildkit"

// sshMounts are the agent sockets of a RUN's --mount=type=ssh, bound where
// BuildKit puts them (/run/buildkit/ssh_agent.N, N counting the RUN's ssh
// mounts, or the mount's target), and the SSH_AUTH_SOCK the command gets
// (the first one's, unless its environment has one). A required mount
// (the default) of an agent the build was not given fails as BuildKit
// fails it; an optional one is left out.
// exclude lists the mount targets (the directories made for them go as
// stubs do, see snapshot's RemoveStubs).
func (s *stage) sshMounts(ms []*instructions.Mount) (mounts []specs.Mount, exclude []string, authSock string, err error) {
	n := 0
	for _, m := range ms {
		if m.Type != instructions.MountTypeSSH {
			continue
		}
		if m.Source != "" {
			return nil, nil, "", errors.New("ssh does not support source")
		}
		target := m.Target
		if target == "" {
			target = fmt.Sprintf("%s/ssh_agent.%d", sshDir, n)
		} else if !path.IsAbs(target) {
			target = path.Join(s.cwd(), target)
		}
		n++
		id := m.CacheID
		if id == "" {
			id = DefaultSSH
		}
		// SSH_AUTH_SOCK names the first ssh mount's target even when it is
		// an optional one left out, as BuildKit sets it (seen with docker).
		if authSock == "" {
			authSock = target
		}
		sock, ok := s.b.o.SSH[id]
		if !ok {
			if m.Required {
				return nil, nil, "", fmt.Errorf("no SSH key %q forwarded from the client (give --ssh %s)", id, sshFlagExample(id))
			}
			continue
		}
		mounts = append(mounts, specs.Mount{Destination: target, Type: "bind", Source: sock, Options: []string{"rbind"}})
		exclude = append(exclude, target)
	}
	return mounts, exclude, authSock, nil
}

func sshFlagExample(id string) string {
	if id == DefaultSSH {
		return DefaultSSH
	}
	return id + "=SOCKET"
}

// cwd is the stage's working directory ("/" when unset).
func (s *stage) cwd() string {
	if wd := s.state.cfg.Config.WorkingDir; wd != "" {
		return wd
	}
	return "/"
}

// withAuthSock adds SSH_AUTH_SOCK=sock to env unless env sets it.
func withAuthSock(env []string, sock string) []string {
	if sock == "" {
		return env
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "SSH_AUTH_SOCK=") {
			return env
		}
	}
	return append(env, "SSH_AUTH_SOCK="+sock)
}
