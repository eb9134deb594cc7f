package builder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/strata-dev/strata/internal/builder/cache"
	"github.com/strata-dev/strata/internal/changes"
	"github.com/strata-dev/strata/internal/container"
	"github.com/strata-dev/strata/internal/metadata"
)

// execRequest is a RUN command to run on a stage's files.
type execRequest struct {
	lower   string // the stage's files (read-only)
	args    []string
	env     []string
	cwd     string
	user    string
	network string
	mounts  []*instructions.Mount
	stdout  io.Writer
	// diff stores the layer tar of the changes the command made, from a
	// snapshot driver's WriteDiff (which checks its entries).
	// content is what the layer unpacks to once fill has returned.
	diff func(fill func(w io.Writer) error, content *int64) (*metadata.Layer, error)
	// kept reports the layer when it was kept as the command's snapshot
	// instead (Options.KeepRunLayers): diff is not called then.
	kept func(l *metadata.Layer)
}

// ExitError is a RUN command that failed.
type ExitError struct {
	Code int
}

func (e *ExitError) Error() string { return fmt.Sprintf("exit code: %d", e.Code) }

// defaultPath is what PATH is when an image has none (BuildKit and
// docker run add it).
const defaultPath = "PATH=" + container.DefaultPath

func (s *stage) run(ctx context.Context, c *instructions.RunCommand) error {
	st := s.state
	// The mount flags expand variables (RUN's command does not: the
	// shell does).
	if err := c.Expand(s.expander()); err != nil {
		return s.lineErr(c, err)
	}
	args := c.CmdLine
	if c.PrependShell {
		sh := st.cfg.Config.Shell
		if len(sh) == 0 {
			sh = []string{"/bin/sh", "-c"}
		}
		args = append(append([]string{}, sh...), runScript(c))
	}
	env := append([]string{}, st.env...)
	if _, ok := changes.EnvGet(env, "PATH"); !ok {
		env = append(env, defaultPath)
	}
	// The proxy build args reach RUN's environment undeclared (in both
	// spellings), and are no input of the cache key, as in BuildKit.
	env = append(env, proxyEnv(s.b.o.BuildArgs)...)
	argEnv := sortedArgs(st.args)
	network := s.b.o.Network
	if n := instructions.GetNetwork(c); n != "" && n != "default" {
		network = n
	}
	mounts := instructions.GetMounts(c)
	display := "RUN " + strings.Join(args[len(args)-1:], " ")
	if !c.PrependShell {
		display = "RUN " + strings.Join(args, " ")
	}
	createdBy := "RUN " + strings.Join(args, " ")
	if len(argEnv) > 0 {
		createdBy = fmt.Sprintf("RUN |%d %s %s", len(argEnv), strings.Join(argEnv, " "), strings.Join(args, " "))
	}
	createdBy += " # buildkit"
	var mountKey []string
	for _, m := range mounts {
		mountKey = append(mountKey, fmt.Sprintf("%s:%s:%s:%s:%v", m.Type, m.From, m.Source, m.Target, m.ReadOnly))
	}
	sort.Strings(mountKey)
	inst := fmt.Sprintf("RUN %q user=%s wd=%s network=%s mounts=%s", args, st.cfg.Config.User, st.cfg.Config.WorkingDir, network, strings.Join(mountKey, ","))
	// --add-host, --ulimit and --shm-size change what a RUN sees, as
	// BuildKit's ExecOp keys them; a build without them keeps its keys.
	if sb, _ := json.Marshal(s.b.o.Sandbox); string(sb) != "{}" {
		inst += " sandbox=" + string(sb)
	}
	// Every ARG in scope is in the command's environment: all are inputs.
	k := cache.Key{Parent: st.key, Platform: s.platform.String(), Instruction: inst, Args: st.keyArgs()}
	if len(k.Args) == 0 {
		k.Args = nil
	}
	v := s.newStep(display)
	ls := &layerStep{key: k, display: display, createdBy: createdBy, v: v}
	if hit, err := s.lookup(ls); err != nil || hit {
		return err
	}
	fail := func(err error) error {
		v.Error(err)
		var ee *ExitError
		if errors.As(err, &ee) {
			return &RunError{File: s.b.dockerfileName(), Line: line(c.Location()), Command: strings.Join(args, " "), Code: ee.Code, Output: v.Logs()}
		}
		return s.lineErr(c, err)
	}
	// A program for another platform runs only through an emulator: say
	// so here rather than let the runtime fail with "exec format error".
	if err := canExec(s.platform); err != nil {
		return fail(err)
	}
	lower := ""
	cwd := st.cfg.Config.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	req := &execRequest{lower: lower, args: args, env: env, cwd: cwd, user: st.cfg.Config.User, network: network, mounts: mounts, stdout: v}
	var made *layerResult
	req.diff = func(fill func(w io.Writer) error, content *int64) (*metadata.Layer, error) {
		l, err := s.b.writeCheckedLayer(fill, content)
		if err == nil {
			made = &layerResult{l}
		}
		return l, err
	}
	req.kept = func(l *metadata.Layer) { made = &layerResult{l} }
	if err := runInContainer(ctx, s.b, s, req); err != nil {
		return fail(err)
	}
	if made == nil {
		return fail(errors.New("the command's changes were not recorded"))
	}
	s.finish(ls, made.l)
	return nil
}

// RunError is a RUN step that exited non-zero: its command, exit code,
// Dockerfile line and last lines of output.
type RunError struct {
	File    string
	Line    int
	Command string
	Code    int
	Output  []string
}

func (e *RunError) Error() string {
	return fmt.Sprintf("%s:%d: RUN %s: exit code %d", e.File, e.Line, e.Command, e.Code)
}

type layerResult struct{ l *metadata.Layer }

// runScript is what RUN's shell runs, heredocs as BuildKit treats them:
// "RUN <<EOF" alone runs the document's text (its leading tabs removed
// for <<-EOF); a command with heredocs ("RUN cat <<EOF > f") is given to
// the shell whole, documents included.
func runScript(c *instructions.RunCommand) string {
	script := strings.Join(c.CmdLine, " ")
	if len(c.Files) == 0 || len(c.CmdLine) != 1 {
		return script
	}
	if parser.MustParseHeredoc(c.CmdLine[0]) != nil {
		data := c.Files[0].Data
		if c.Files[0].Chomp {
			data = parser.ChompHeredocContent(data)
		}
		return data
	}
	var b strings.Builder
	b.WriteString(c.CmdLine[0])
	for _, f := range c.Files {
		b.WriteString("\n" + f.Data + f.Name)
	}
	return b.String()
}

// proxyNames are the build args BuildKit passes to RUN as proxy settings,
// whatever their case.
var proxyNames = []string{"HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY"}

// proxyEnv is RUN's proxy environment from the build args: each one given
// as NAME=v and name=v (of two spellings given, the later in sorted order
// wins, as in BuildKit).
func proxyEnv(buildArgs map[string]string) []string {
	var out []string
	for _, n := range proxyNames {
		v := ""
		for _, k := range mapEnv(buildArgs).Keys() {
			if strings.EqualFold(k, n) {
				v = buildArgs[k]
			}
		}
		if v != "" {
			out = append(out, n+"="+v, strings.ToLower(n)+"="+v)
		}
	}
	return out
}
