// Package changes applies Dockerfile instructions that only change an
// image's config (CMD, ENTRYPOINT, ENV, ...) — what `import -c`,
// `commit -c` and a build's metadata steps do — using buildkit's Dockerfile
// parser and shell lexer, so the grammar and variable expansion are docker's.
package changes

import (
	"fmt"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/strata-dev/strata/internal/image"
)

// allowed are the instructions `docker import/commit --change` accepts.
var allowed = map[string]bool{
	"cmd": true, "entrypoint": true, "env": true, "expose": true, "label": true,
	"onbuild": true, "user": true, "volume": true, "workdir": true, "stopsignal": true,
	"healthcheck": true, "shell": true,
}

// Apply applies each change ("CMD [\"sh\"]", "ENV A=b", ...) to cfg in order.
func Apply(cfg *image.ContainerConfig, changes []string) error {
	for _, ch := range changes {
		res, err := parser.Parse(strings.NewReader(ch))
		if err != nil {
			return fmt.Errorf("invalid change %q: %v", ch, err)
		}
		for _, node := range res.AST.Children {
			if !allowed[strings.ToLower(node.Value)] {
				return fmt.Errorf("invalid change %q: %s is not allowed (use CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL, HEALTHCHECK or SHELL)", ch, strings.ToUpper(node.Value))
			}
			inst, err := instructions.ParseInstruction(node)
			if err != nil {
				return fmt.Errorf("invalid change %q: %v", ch, err)
			}
			if err := Instruction(cfg, inst, shell.NewLex(parser.DefaultEscapeToken)); err != nil {
				return fmt.Errorf("invalid change %q: %v", ch, err)
			}
		}
	}
	return nil
}

// EnvGetter looks variables up in an image's Env list (later entries win).
type envList []string

func (e envList) Get(key string) (string, bool) {
	for i := len(e) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(e[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

func (e envList) Keys() []string {
	var out []string
	for _, kv := range e {
		k, _, _ := strings.Cut(kv, "=")
		out = append(out, k)
	}
	return out
}

// EnvGet looks key up in an Env list (the last entry wins).
func EnvGet(env []string, key string) (string, bool) { return envList(env).Get(key) }

// SetEnv sets key=value in an Env list, replacing an earlier value in place
// as docker does.
func SetEnv(env []string, key, value string) []string {
	for i, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			env[i] = key + "=" + value
			return env
		}
	}
	return append(env, key+"="+value)
}

// Instruction applies one parsed metadata instruction to cfg, expanding
// variables from cfg's Env with lex. It returns an error for an instruction
// that is not a config change.
func Instruction(cfg *image.ContainerConfig, inst any, lex *shell.Lex) error {
	return InstructionVars(cfg, inst, lex, envList(cfg.Env))
}

// InstructionVars is Instruction with variables expanded from vars (a
// build stage's ARGs and ENV) instead of cfg's Env. Every word is expanded
// from the variables as they were before the instruction, as docker does
// (ENV a=1 b=$a gives b the earlier a).
func InstructionVars(cfg *image.ContainerConfig, inst any, lex *shell.Lex, vars shell.EnvGetter) error {
	expand := func(word string) (string, error) {
		s, _, err := lex.ProcessWord(word, vars)
		return s, err
	}
	if ex, ok := inst.(instructions.SupportsSingleWordExpansion); ok {
		if err := ex.Expand(expand); err != nil {
			return err
		}
	}
	shellOf := func() []string {
		if len(cfg.Shell) > 0 {
			return append([]string{}, cfg.Shell...)
		}
		return []string{"/bin/sh", "-c"}
	}
	cmdLine := func(c instructions.ShellDependantCmdLine) []string {
		if c.PrependShell {
			return append(shellOf(), strings.Join(c.CmdLine, " "))
		}
		return c.CmdLine
	}
	switch c := inst.(type) {
	case *instructions.CmdCommand:
		cfg.Cmd = cmdLine(c.ShellDependantCmdLine)
		//lint:ignore SA1019 docker writes the field; clearing it is what docker does
		cfg.ArgsEscaped = false
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = cmdLine(c.ShellDependantCmdLine)
		// docker: ENTRYPOINT resets a CMD inherited from the base image.
		cfg.Cmd = nil
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			cfg.Env = SetEnv(cfg.Env, kv.Key, kv.Value)
		}
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range c.Labels {
			cfg.Labels[kv.Key] = kv.Value
		}
	case *instructions.ExposeCommand:
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range c.Ports {
			p, err := expand(p)
			if err != nil {
				return err
			}
			for _, spec := range strings.Fields(p) {
				ports, err := ExposedPorts(spec)
				if err != nil {
					return err
				}
				for _, port := range ports {
					cfg.ExposedPorts[port] = struct{}{}
				}
			}
		}
	case *instructions.UserCommand:
		cfg.User = c.User
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v = strings.TrimSpace(v); v == "" {
				return fmt.Errorf("VOLUME specified can not be an empty string")
			}
			cfg.Volumes[v] = struct{}{}
		}
	case *instructions.WorkdirCommand:
		cfg.WorkingDir = Workdir(cfg.WorkingDir, c.Path)
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(cfg.OnBuild, c.Expression)
	case *instructions.StopSignalCommand:
		cfg.StopSignal = c.Signal
	case *instructions.HealthCheckCommand:
		h := *c.Health
		cfg.Healthcheck = &h
	case *instructions.ShellCommand:
		cfg.Shell = c.Shell
	case *instructions.MaintainerCommand:
		// MAINTAINER sets the image's author, not the container config.
	default:
		return fmt.Errorf("%T is not a config change", inst)
	}
	return nil
}

// Workdir resolves a WORKDIR argument against the current one.
func Workdir(cur, p string) string {
	if strings.HasPrefix(p, "/") || cur == "" {
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		return cleanPath(p)
	}
	return cleanPath(cur + "/" + p)
}

func cleanPath(p string) string {
	parts := []string{}
	for _, s := range strings.Split(p, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(parts) > 0 {
				parts = parts[:len(parts)-1]
			}
		default:
			parts = append(parts, s)
		}
	}
	return "/" + strings.Join(parts, "/")
}

// SortedKeys lists a set's keys in order (for stable printing).
func SortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
